package tcp

import (
	"testing"
	"unsafe"
)

// The memory budget charges txRecordSize per transmit record: it must be
// what a record takes (it said 72 after records grew to 80 bytes).
func TestTxRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(txRecord{}); got != txRecordSize {
		t.Fatalf("a txRecord takes %d bytes, txRecordSize says %d", got, txRecordSize)
	}
}
