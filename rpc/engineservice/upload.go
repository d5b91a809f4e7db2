package engineservice

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// materializeUpload answers the contract's materializeUpload as far as this
// engine can. optio-core reads the blob, resolves the process and hands the
// bytes to the upload writer the running task registered
// (ctx.register_upload_writer), which writes them into its workdir and
// returns the path; every failure is {ok: false, reason}. This engine checks
// the blob and the process the same way and in the same order, but tasks
// cannot register an upload writer here, so the answer is always ok: false,
// with the reason optio-core gives for a process without a writer.
func (s service) materializeUpload(ctx context.Context, p engineapi.MaterializeUploadParams) (any, error) {
	if err := engineapi.CheckProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	return engineapi.UploadResult{Reason: s.uploadRefusal(ctx, p)}, nil
}

// uploadRefusal says why the upload in p cannot be materialized, worded as
// optio-core's exception repr for the same case.
func (s service) uploadRefusal(ctx context.Context, p engineapi.MaterializeUploadParams) string {
	blobID, err := bson.ObjectIDFromHex(p.BlobID)
	if err != nil {
		return pyException("InvalidId", fmt.Sprintf("%s is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string", pyRepr(p.BlobID)))
	}
	files := s.e.Config().Mongo.GridFSBucket().GetFilesCollection()
	err = files.FindOne(ctx, bson.D{{Key: "_id", Value: blobID}}).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return pyException("NoFile", fmt.Sprintf("no file in gridfs collection %s with _id ObjectId(%s)", pyRepr(files.Name()), pyRepr(blobID.Hex())))
	case err != nil:
		return pyException("PyMongoError", err.Error())
	}
	doc, err := s.e.Store().Resolve(ctx, p.ProcessID)
	switch {
	case errors.Is(err, mirror.ErrNotFound):
		return pyException("NoUploadWriter", fmt.Sprintf("no upload writer registered for process '%s': no such process", p.ProcessID))
	case err != nil:
		return pyException("PyMongoError", err.Error())
	}
	return pyException("NoUploadWriter", fmt.Sprintf(
		"no upload writer registered for process '%s': this engine has no upload writers (a task cannot register one), so no process accepts uploads", doc.ProcessID))
}

// pyException renders an exception raised with one message as Python's
// repr does: NoUploadWriter("no upload writer registered for process 'p1'").
func pyException(name, msg string) string { return name + "(" + pyRepr(msg) + ")" }

// pyRepr renders s as Python's repr of a str: single quotes unless s holds a
// single quote and no double quote, backslash escapes for the quote, the
// backslash and control characters.
func pyRepr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}
