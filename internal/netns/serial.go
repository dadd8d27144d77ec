package netns

import (
	"sync"
	"testing"
)

// The tests that run against the kernel run on the wall clock: a script's
// 200 ms timer or a PAWS check fails when another test binary's 1 GiB
// transfer takes both cores at that moment. `go test ./...` runs packages
// side by side, so Serialize makes those tests take turns machine-wide:
// an exclusive lock on one file, held while any test of this process
// holds it (tests of one package may still run side by side, as they
// chose with t.Parallel). The kernel drops the lock when the process
// ends, however it ends.
var serial struct {
	mu      sync.Mutex
	holders int
	release func()
}

// lockPath is the file whose lock the real-time tests of every test
// binary take turns on (a variable for this package's own test).
var lockPath = "/run/synack-realtime-tests.lock"

// Serialize waits until no test of another process holds the real-time
// lock, takes it for this process, and lets it go with t.Cleanup. New
// calls it; a test that makes its namespaces another way (Add, or a
// library that does) calls it first.
func Serialize(t testing.TB) {
	t.Helper()
	serial.mu.Lock()
	defer serial.mu.Unlock()
	if serial.holders == 0 {
		release, err := lockFile(lockPath)
		if err != nil {
			t.Fatalf("netns: the lock that makes real-time tests take turns: %v", err)
		}
		serial.release = release
	}
	serial.holders++
	t.Cleanup(func() {
		serial.mu.Lock()
		defer serial.mu.Unlock()
		if serial.holders--; serial.holders == 0 {
			serial.release()
			serial.release = nil
		}
	})
}
