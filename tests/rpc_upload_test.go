package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// materializeUpload is answered as optio-core answers it when it cannot
// materialize an upload: {ok: false, reason} with the repr of the exception
// that stopped it, checked in optio-core's order (the GridFS blob, then the
// process, then the process's upload writer, which tasks cannot register on
// this engine). optio-api stages the file in the database's default GridFS
// bucket first, as done here.
func TestRPCMaterializeUpload(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	blobID, err := h.env.Mongo.DB.GridFSBucket().UploadFromStream(h.ctx, "notes.md", bytes.NewReader([]byte("# notes\n")))
	require.NoError(t, err)
	blob := blobID.Hex()
	quick := h.get("quick")
	noWriter := `NoUploadWriter("no upload writer registered for process 'quick': this engine has no upload writers (a task cannot register one), so no process accepts uploads")`

	for _, tt := range []struct {
		name   string
		params map[string]any
		reason string
	}{
		{"process without an upload writer", map[string]any{"processId": "quick", "blobId": blob, "filename": "notes.md"}, noWriter},
		{"process by _id", map[string]any{"processId": quick.ID.Hex(), "blobId": blob, "filename": "notes.md"}, noWriter},
		{"unknown process", map[string]any{"processId": "nope", "blobId": blob, "filename": "notes.md"},
			`NoUploadWriter("no upload writer registered for process 'nope': no such process")`},
		{"blob id that is no ObjectId", map[string]any{"processId": "quick", "blobId": "b", "filename": "notes.md"},
			`InvalidId("'b' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string")`},
		{"missing blob", map[string]any{"processId": "quick", "blobId": "0123456789abcdef01234567", "filename": "notes.md"},
			`NoFile("no file in gridfs collection 'fs.files' with _id ObjectId('0123456789abcdef01234567')")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, map[string]any{"ok": false, "reason": tt.reason}, h.call("materializeUpload", tt.params))
		})
	}

	// Params are checked as the contract's model checks them.
	for _, tt := range []struct {
		params string
		errs   []string
	}{
		{`{"processId": "quick", "blobId": "b"}`, []string{"missing at filename"}},
		{`{"processId": "", "blobId": "b", "filename": "f"}`, []string{"string_too_short at processId"}},
		{`{"processId": "quick", "blobId": 7, "filename": "f"}`, []string{"string_type at blobId"}},
		{`{"processId": "quick", "blobId": "b", "filename": "f", "path": "/tmp"}`, []string{"extra_forbidden at path"}},
	} {
		rpcErr := h.callError("materializeUpload", json.RawMessage(tt.params))
		require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code, tt.params)
		var data struct {
			Errors []rpc.FieldError `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(rpcErr.Data.(json.RawMessage), &data))
		var got []string
		for _, fe := range data.Errors {
			got = append(got, fmt.Sprint(fe.Type, " at ", fe.Loc[0]))
		}
		assert.Equal(t, tt.errs, got, tt.params)
	}
	// The blob is optio-api's to delete; the engine leaves it.
	n, err := h.env.Mongo.DB.Collection("fs.files").CountDocuments(h.ctx, bson.D{{Key: "_id", Value: blobID}})
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

// optioEngineMethods are the methods of optio's optio-engine contract
// (optio-contracts' optio-engine-to-api.ts); resync is a notification.
var optioEngineMethods = []string{
	"launch", "cancel", "dismiss", "groupCancel", "groupCancelAndWait",
	"blockLaunches", "unblockLaunches", "materializeUpload", "resync",
}

// No method of the contract is "Method not found": each request method
// answers (here -32602, as {} lacks its required params), and resync, a
// notification, sends no reply at all. A name outside the contract is -32601.
func TestRPCServesEveryContractMethod(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	for _, method := range optioEngineMethods {
		t.Run(method, func(t *testing.T) {
			if method == "resync" {
				ctx, cancel := context.WithTimeout(h.ctx, 500*time.Millisecond)
				defer cancel()
				require.ErrorIs(t, h.client.Call(ctx, engineapi.Service, method, json.RawMessage(`{"clean": null}`), nil), rpc.ErrCallTimeout)
				return
			}
			rpcErr := h.callError(method, json.RawMessage(`{}`))
			require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code, "%s: %v", method, rpcErr)
		})
	}
	require.Equal(t, rpc.CodeMethodNotFound, h.callError("launchAll", json.RawMessage(`{}`)).Code)
}
