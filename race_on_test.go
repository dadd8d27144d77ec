//go:build race

package synack

// raceEnabled is true when the race detector runs; it makes sync.Pool drop
// entries at random, so allocation counts mean nothing then.
const raceEnabled = true
