package link

// Inliner is an Endpoint (or one queue of a MultiQueue) that can run its
// reader's work on the writer's goroutine: when a packet arrives while the
// reader is blocked in ReadBatch (or ReadPackets) with nothing queued, the
// link may call the reader's receive function with it instead of waking
// the reader, as Linux's loopback device runs the receiving socket's input
// in the sender's softirq. On an in-memory link a request-response round
// trip then wakes the two applications only, not the two read loops as
// well: on a machine with an idle core, each wake of a goroutine may wake
// an idle thread, whose cost (a futex wake, on a virtual machine an
// interrupt to an idle virtual CPU) the waker pays before it goes on.
//
// A reader opts in with SetInline; a link that does not implement Inliner,
// or a wrapper that hides it, wakes its reader as ever.
type Inliner interface {
	// SetInline gives the link the reader's receive function, before the
	// reader's first read. The link then calls fn on some writer's
	// goroutine with packets that arrive while the reader is blocked in
	// ReadBatch or ReadPackets and nothing is queued ahead of them; the
	// blocked read does not return while fn runs, and fn never runs twice
	// at once, so fn may use the reader's state as its own. pkts[i] is an
	// IP packet (no headroom) and meta[i] its metadata as ReadPackets would
	// report it; meta is nil on a link without offloads (a reader that
	// reads a link with offloads by ReadBatch must not opt in). fn must
	// not keep pkts or meta after it returns, nor call Close, which waits
	// for it. A writer calls fn with its own locks held: the link runs at
	// most one fn at a time on either end, and what fn's own writes send
	// back is queued, never delivered inline in turn, so fn may take its
	// own side's locks, but must never wait for anything of the writer's
	// side.
	SetInline(fn func(pkts [][]byte, meta []Meta))
}
