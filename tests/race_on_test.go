//go:build race

package tests

// raceEnabled is true in a -race build, whose instrumented Temporal server is
// several times slower; the scale test runs in a build without it.
const raceEnabled = true
