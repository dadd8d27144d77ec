package cc

import (
	"testing"
	"unsafe"
)

// CUBIC, the default, is allocated once per connection that sends: it
// stays in the allocator's 256-byte size class (a field more in the wrong
// place makes it 288).
func TestCUBICSize(t *testing.T) {
	if got := unsafe.Sizeof(cubic{}); got > 256 {
		t.Fatalf("a cubic takes %d bytes, more than 256", got)
	}
}
