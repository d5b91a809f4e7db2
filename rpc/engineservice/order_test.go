package engineservice

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// Calls on one process share a key, calls on different processes do not,
// and calls on many processes run alone.
func TestEngineOrderKey(t *testing.T) {
	for _, tt := range []struct {
		method, params, want string
	}{
		{"launch", `{"processId": "p1", "resume": null, "sessionId": null}`, "process:p1"},
		{"cancel", `{"processId": "p1"}`, "process:p1"},
		{"dismiss", `{"processId": "p2"}`, "process:p2"},
		{"materializeUpload", `{"processId": "p1", "blobId": "b", "filename": "f"}`, "process:p1"},
		{"cancel", `{"processId": "*"}`, "process:*"},
		{"launch", `{"processId": ""}`, ""},
		{"launch", `{"processId": 7}`, ""},
		{"cancel", `[]`, ""},
		{"groupCancel", `{"metadataFilter": {"a": 1}}`, rpc.OrderAll},
		{"groupCancelAndWait", `{"metadataFilter": {"a": 1}}`, rpc.OrderAll},
		{"blockLaunches", `{"launchFilter": {}}`, rpc.OrderAll},
		{"unblockLaunches", `{"launchFilter": {}}`, rpc.OrderAll},
		{"resync", `{}`, rpc.OrderAll},
		{"someNewMethod", `{"processId": "p1"}`, rpc.OrderAll},
	} {
		require.Equal(t, tt.want, engineOrderKey(tt.method, json.RawMessage(tt.params)), "%s %s", tt.method, tt.params)
	}
}

// Every method of the service is ordered on purpose: keyed by its process
// or run alone, never by the fallback for methods nobody thought about.
func TestEngineOrderKeyCoversEveryMethod(t *testing.T) {
	svc := orderedEngineService(service{}.service())
	require.NotNil(t, svc.OrderKey)
	perProcess := map[string]bool{"launch": true, "cancel": true, "dismiss": true, "materializeUpload": true}
	alone := map[string]bool{"groupCancel": true, "groupCancelAndWait": true, "blockLaunches": true, "unblockLaunches": true, "resync": true}
	for _, m := range svc.Methods {
		require.True(t, perProcess[m.Name] || alone[m.Name], "method %s has no deliberate order", m.Name)
		want := rpc.OrderAll
		if perProcess[m.Name] {
			want = "process:x"
		}
		require.Equal(t, want, svc.OrderKey(m.Name, json.RawMessage(`{"processId": "x"}`)), m.Name)
	}
	require.Len(t, svc.Methods, len(perProcess)+len(alone))
}
