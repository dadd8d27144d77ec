package synack

import (
	"net/netip"
	"testing"
)

// The read loop's cache returns its last connection only while that one
// is in the table: after removal it asks the table, which may hold a new
// incarnation of the 4-tuple.
func TestFlowCacheForgetsRemoved(t *testing.T) {
	var tab flowTable
	tab.init()
	k := flowKey{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:40000")}
	old, next := &Conn{key: k}, &Conn{key: k}
	never := func() bool { return false }
	if !tab.insert(k, old, never) {
		t.Fatal("insert failed")
	}
	var fc flowCache
	first := fc.lookup(&tab, k)
	if again := fc.lookup(&tab, k); first != old || again != old {
		t.Fatal("the cache lost the connection")
	}
	tab.remove(old)
	if c := fc.lookup(&tab, k); c != nil {
		t.Fatalf("the cache returned a removed connection")
	}
	tab.insert(k, next, never)
	if fc.lookup(&tab, k) != next {
		t.Fatal("the cache did not find the new incarnation")
	}
	other := flowKey{k.local, netip.MustParseAddrPort("10.0.0.3:40000")}
	if fc.lookup(&tab, other) != nil || fc.lookup(&tab, k) != next {
		t.Fatal("the cache mixed two 4-tuples")
	}
}
