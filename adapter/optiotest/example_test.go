package optiotest_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
)

// importFiles is the task under test: it imports the files in its params,
// one child process each, and reports progress after each.
func importFiles(pc *adapter.ProcessContext) error {
	files := pc.Params()["files"].([]string)
	for i, f := range files {
		_, err := pc.RunChild(adapter.ChildSpec{
			Execute:   importFile,
			ProcessID: pc.ProcessID() + "/" + f,
			Name:      "Import " + f,
			Params:    map[string]any{"file": f},
		})
		if err != nil {
			return err // a failed import fails the task; after a cancel it ends cancelled
		}
		pc.ReportProgress(float64(i+1)*100/float64(len(files)), "Imported "+f)
	}
	return nil
}

func importFile(pc *adapter.ProcessContext) error {
	if pc.Params()["file"] == "broken.csv" {
		return fmt.Errorf("parse %s: unexpected EOF", pc.Params()["file"])
	}
	return nil
}

// A task's unit tests run its body, children included, without any server:
// once to the end, once into a failing child, once cancelled midway.
func Example() {
	ctx := context.Background()
	files := []string{"a.csv", "b.csv", "c.csv"}

	res, err := optiotest.Run(ctx, importFiles, optiotest.Options{
		ProcessID: "import",
		Params:    map[string]any{"files": files},
	})
	if err != nil {
		panic(err) // bad Options
	}
	fmt.Println(res.State, res.Messages(), len(res.Children))

	res, _ = optiotest.Run(ctx, importFiles, optiotest.Options{
		ProcessID: "import",
		Params:    map[string]any{"files": []string{"a.csv", "broken.csv", "c.csv"}},
	})
	fmt.Println(res.State, res.Err)
	fmt.Println(res.Child("import/broken.csv").State, res.Child("import/broken.csv").Err)

	res, _ = optiotest.Run(ctx, importFiles, optiotest.Options{
		ProcessID: "import",
		Params:    map[string]any{"files": files},
		CancelWhen: func(processID string, r optiotest.Report) bool {
			return r.Message == "Imported a.csv"
		},
	})
	fmt.Println(res.State, res.Log[len(res.Log)-1].Message)

	// Output:
	// done [Imported a.csv Imported b.csv Imported c.csv] 3
	// failed Child 'Import broken.csv' (process_id=import/broken.csv) failed: parse broken.csv: unexpected EOF
	// failed parse broken.csv: unexpected EOF
	// cancelled Refused to spawn child 'Import b.csv' (process_id=import/b.csv): parent already cancelled
}
