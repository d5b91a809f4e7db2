package devstack

import (
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdklog "go.temporal.io/sdk/log"
)

// quietSDKLogger keeps the SDK's per-task debug lines out of test output.
func quietSDKLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(minLevel{Handler: slog.Default().Handler(), level: slog.LevelWarn}))
}

func describeNamespace(name string) *workflowservice.DescribeNamespaceRequest {
	return &workflowservice.DescribeNamespaceRequest{Namespace: name}
}

func listRequest(namespace, query string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query}
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		panic(err)
	}
	return n
}

// processCPU returns the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}
