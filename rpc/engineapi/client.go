package engineapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc"
)

// Client calls the optio-engine service through a clamator client whose
// KeyPrefix is the engines' (see [KeyPrefix]). A call refused for a contract
// reason returns that [mirror.Reason] as its error; a call the engine could not
// take returns the *rpc.Error it answered; others return the client's error
// (rpc.ErrCallTimeout when no engine answered in time).
type Client struct {
	rc *rpc.Client
}

// NewClient returns a Client that calls through rc. Closing rc is the
// caller's business.
func NewClient(rc *rpc.Client) *Client { return &Client{rc: rc} }

// outcome is any result of the contract: the union of its result types.
type outcome struct {
	OK             *bool           `json:"ok"`
	Reason         mirror.Reason   `json:"reason"`
	Process        json.RawMessage `json:"process"`
	CancelledCount int             `json:"cancelledCount"`
	Removed        int             `json:"removed"`
}

func (c *Client) call(ctx context.Context, method string, params any) (outcome, error) {
	var out outcome
	if err := c.rc.Call(ctx, Service, method, params, &out); err != nil {
		return out, err
	}
	if out.OK != nil && !*out.OK {
		if out.Reason == "" {
			return out, fmt.Errorf("%s: refused without a reason", method)
		}
		return out, out.Reason
	}
	return out, nil
}

// Launch launches a process and returns its document as [ProcessJSON]
// writes it (null when an ephemeral process already ended).
func (c *Client) Launch(ctx context.Context, p LaunchParams) (json.RawMessage, error) {
	out, err := c.call(ctx, "launch", p)
	return out.Process, err
}

// Cancel cancels a process by processId or _id and returns its document.
func (c *Client) Cancel(ctx context.Context, processID string) (json.RawMessage, error) {
	out, err := c.call(ctx, "cancel", ProcessIDParams{ProcessID: processID})
	return out.Process, err
}

// Dismiss dismisses an ended process by processId or _id and returns its
// document.
func (c *Client) Dismiss(ctx context.Context, processID string) (json.RawMessage, error) {
	out, err := c.call(ctx, "dismiss", ProcessIDParams{ProcessID: processID})
	return out.Process, err
}

// Resync asks an engine to resync its task definitions. It is a
// notification: nothing says when, or whether, it ran.
func (c *Client) Resync(ctx context.Context, p ResyncParams) error {
	return c.rc.Notify(ctx, Service, "resync", p)
}

// GroupCancel cancels the processes p.MetadataFilter selects and returns how
// many it cancelled.
func (c *Client) GroupCancel(ctx context.Context, p GroupCancelParams) (int, error) {
	out, err := c.call(ctx, "groupCancel", p)
	return out.CancelledCount, err
}

// GroupCancelAndWait is GroupCancel that returns once the cancelled
// processes have ended.
func (c *Client) GroupCancelAndWait(ctx context.Context, p GroupCancelParams) (int, error) {
	out, err := c.call(ctx, "groupCancelAndWait", p)
	return out.CancelledCount, err
}

// BlockLaunches refuses launches of the processes whose metadata match
// p.LaunchFilter until UnblockLaunches lifts the block.
func (c *Client) BlockLaunches(ctx context.Context, p BlockLaunchesParams) error {
	_, err := c.call(ctx, "blockLaunches", p)
	return err
}

// UnblockLaunches removes the blocks with p.LaunchFilter and returns how
// many it removed.
func (c *Client) UnblockLaunches(ctx context.Context, p UnblockLaunchesParams) (int, error) {
	out, err := c.call(ctx, "unblockLaunches", p)
	return out.Removed, err
}

// MaterializeUpload asks the engine to hand an uploaded blob to the task of
// a process. A refusal is a result (OK false, with its reason), not an error.
func (c *Client) MaterializeUpload(ctx context.Context, p MaterializeUploadParams) (UploadResult, error) {
	var res UploadResult
	err := c.rc.Call(ctx, Service, "materializeUpload", p, &res)
	return res, err
}
