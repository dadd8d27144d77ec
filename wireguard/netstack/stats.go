package netstack

// DeviceStats counts the packets that crossed the device between
// wireguard-go and the stack. The stack's own counters (drops by reason,
// connections) are Net.Stack().Stats().
type DeviceStats struct {
	// FromTunnel are the packets wireguard-go wrote that the stack's queue
	// took; FromTunnelDropped found it full (the stack was behind) and
	// TooBig exceeded the MTU. Echo replies to ping sockets are
	// PingReplies, and not counted in FromTunnel.
	FromTunnel, FromTunnelDropped, TooBig, PingReplies uint64
	// ToTunnel are the packets queued for wireguard-go's Read: the stack's
	// and the ping sockets' echo requests.
	ToTunnel uint64
}

// DeviceStats returns the device's counters so far.
func (n *Net) DeviceStats() DeviceStats {
	in, out := n.dev.ep.in.stats(), n.dev.ep.out.stats()
	return DeviceStats{
		FromTunnel:        in.Pushed,
		FromTunnelDropped: in.Dropped,
		TooBig:            n.dev.tooBig.Load(),
		PingReplies:       n.dev.pings.replies.Load(),
		ToTunnel:          out.Pushed,
	}
}
