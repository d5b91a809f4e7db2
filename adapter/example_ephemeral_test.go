package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// MarkEphemeral lets a body decide, while it runs, that its process leaves
// no record: the process is deleted, with its descendants, once it ends,
// whether done, failed or cancelled. Here a check that finds nothing new
// disappears, and one that found something stays for the dashboard.
func ExampleProcessContext_MarkEphemeral() {
	ctx := context.Background()
	eng, stop := newExampleEngine() // ad-hoc processes only
	defer stop()

	checkInbox := func(pc *adapter.ProcessContext) error {
		unread := pc.Params()["unread"].(int)
		if unread == 0 {
			// Nothing worth keeping a document for.
			return pc.MarkEphemeral()
		}
		pc.ReportProgress(100, fmt.Sprintf("%d new messages", unread))
		return nil
	}
	for _, inbox := range []struct {
		id     string
		unread int
	}{{"inbox-alice", 3}, {"inbox-bob", 0}} {
		task := adapter.TaskInstance{Execute: checkInbox, ProcessID: inbox.id, Name: "Check inbox", Params: map[string]any{"unread": inbox.unread}}
		if _, err := eng.AdhocDefine(ctx, task, adapter.AdhocOptions{}); err != nil {
			panic(err)
		}
		p, err := eng.LaunchAndWait(ctx, inbox.id)
		if err != nil {
			panic(err)
		}
		if p == nil {
			fmt.Printf("%s: deleted\n", inbox.id)
			continue
		}
		fmt.Printf("%s: %s, %s\n", p.ProcessID, p.Status.State, *p.Progress.Message)
	}

	all, err := eng.ListProcesses(ctx, adapter.ListOptions{})
	if err != nil {
		panic(err)
	}
	for _, p := range all {
		fmt.Println("kept:", p.ProcessID)
	}
	// Output:
	// inbox-alice: done, 3 new messages
	// inbox-bob: deleted
	// kept: inbox-alice
}
