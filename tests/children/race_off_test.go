//go:build !race

package children

const raceEnabled = false
