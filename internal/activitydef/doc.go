// Package activitydef implements the activities package's activities and
// defines their inputs and results: the mirror writes (Mirror), the body
// activity, the local activity that starts a body inline, and the running
// bodies (Bodies), and the activities of the
// children workflow (Children). Only the engine and the workflows use it.
package activitydef
