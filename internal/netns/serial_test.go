//go:build linux

package netns

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// lockedElsewhere reports whether another open file could take the lock now
// (flock locks belong to open files, so a second open in this process
// stands for another test binary).
func lockedElsewhere(t *testing.T) bool {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// TestSerializeHoldsTheLockWhileAnyTestDoes checks that the lock is taken by
// the first holder, kept while a second one holds it, and let go by the last.
func TestSerializeHoldsTheLockWhileAnyTestDoes(t *testing.T) {
	// A file of its own: the real one may be held by another package's
	// test right now.
	defer func(p string) { lockPath = p }(lockPath)
	lockPath = t.TempDir() + "/lock"
	if lockedElsewhere(t) {
		t.Fatal("the lock is held before any test of this process took it")
	}
	t.Run("outer", func(t *testing.T) {
		Serialize(t)
		t.Run("inner", func(t *testing.T) {
			Serialize(t) // the same process: no wait
			if !lockedElsewhere(t) {
				t.Error("not locked with two holders")
			}
		})
		if !lockedElsewhere(t) {
			t.Error("let go while the outer test still holds it")
		}
	})
	if lockedElsewhere(t) {
		t.Error("still locked after the last holder ended")
	}
}
