package engineservice

import (
	"encoding/json"

	"github.com/optio-temporal/optio/rpc"
)

// engineOrderKey is the optio-engine service's rpc.Service.OrderKey: which
// of its calls an engine may run side by side, and which must keep their
// stream order, as they would on optio-core's one-call-at-a-time server.
//
//   - launch, cancel, dismiss and materializeUpload act on one process and
//     are keyed by it: two calls on one process never overtake each other
//     (a cancel sent after a launch finds the run the launch started), while
//     calls on different processes run at once.
//   - groupCancel, groupCancelAndWait, blockLaunches, unblockLaunches and
//     resync act on every process their filter matches, which the params
//     cannot tell, so they run alone (rpc.OrderAll): a launch taken before
//     a groupCancel has started, and is cancelled by it, and a launch taken
//     after a blockLaunches is refused by it, as on optio-core. A
//     groupCancelAndWait holds the engine's other calls until its processes
//     have ended, as optio-core's server does.
//
// The key is the process reference as sent, without a lookup: a process
// named by its 24-hex _id in one call and by its processId in another gets
// two keys, and the order holds among the calls that name it the same way.
// (The engine's own compare-and-set transitions keep such calls safe, if
// not ordered.) Params that do not decode get no key: their call only
// answers -32602.
func engineOrderKey(method string, params json.RawMessage) string {
	switch method {
	case "launch", "cancel", "dismiss", "materializeUpload":
		var p struct {
			ProcessID string `json:"processId"`
		}
		if json.Unmarshal(params, &p) != nil || p.ProcessID == "" {
			return ""
		}
		return "process:" + p.ProcessID
	case "groupCancel", "groupCancelAndWait", "blockLaunches", "unblockLaunches", "resync":
		return rpc.OrderAll
	}
	// A method added to the service without a thought for its order runs
	// alone, the safe side.
	return rpc.OrderAll
}

// orderedEngineService gives the optio-engine service its ordering key.
func orderedEngineService(svc rpc.Service) rpc.Service {
	svc.OrderKey = engineOrderKey
	return svc
}
