package script

import "encoding/binary"

// tcpInfoFields is the layout of Linux's struct tcp_info
// (include/uapi/linux/tcp.h): each field's name without tcpi_, offset and
// size in bytes. snd_wscale and rcv_wscale share a byte (4 bits each).
var tcpInfoFields = []struct {
	name string
	off  int
	size int
}{
	{"state", 0, 1}, {"ca_state", 1, 1}, {"retransmits", 2, 1}, {"probes", 3, 1},
	{"backoff", 4, 1}, {"options", 5, 1},
	{"rto", 8, 4}, {"ato", 12, 4}, {"snd_mss", 16, 4}, {"rcv_mss", 20, 4},
	{"unacked", 24, 4}, {"sacked", 28, 4}, {"lost", 32, 4}, {"retrans", 36, 4}, {"fackets", 40, 4},
	{"last_data_sent", 44, 4}, {"last_ack_sent", 48, 4}, {"last_data_recv", 52, 4}, {"last_ack_recv", 56, 4},
	{"pmtu", 60, 4}, {"rcv_ssthresh", 64, 4}, {"rtt", 68, 4}, {"rttvar", 72, 4},
	{"snd_ssthresh", 76, 4}, {"snd_cwnd", 80, 4}, {"advmss", 84, 4}, {"reordering", 88, 4},
	{"rcv_rtt", 92, 4}, {"rcv_space", 96, 4}, {"total_retrans", 100, 4},
	{"pacing_rate", 104, 8}, {"max_pacing_rate", 112, 8}, {"bytes_acked", 120, 8}, {"bytes_received", 128, 8},
	{"segs_out", 136, 4}, {"segs_in", 140, 4}, {"notsent_bytes", 144, 4}, {"min_rtt", 148, 4},
	{"data_segs_in", 152, 4}, {"data_segs_out", 156, 4}, {"delivery_rate", 160, 8},
	{"busy_time", 168, 8}, {"rwnd_limited", 176, 8}, {"sndbuf_limited", 184, 8},
	{"delivered", 192, 4}, {"delivered_ce", 196, 4}, {"bytes_sent", 200, 8}, {"bytes_retrans", 208, 8},
	{"dsack_dups", 216, 4}, {"reord_seen", 220, 4}, {"rcv_ooopack", 224, 4},
	{"snd_wnd", 228, 4}, {"rcv_wnd", 232, 4}, {"rehash", 236, 4},
	{"total_rto", 240, 2}, {"total_rto_recoveries", 242, 2}, {"total_rto_time", 244, 4},
}

// decodeTCPInfo reads a struct tcp_info as the kernel returned it (n bytes
// valid: older kernels return fewer fields).
func decodeTCPInfo(b []byte) map[string]int64 {
	m := make(map[string]int64, len(tcpInfoFields)+2)
	for _, f := range tcpInfoFields {
		if f.off+f.size > len(b) {
			continue
		}
		switch f.size {
		case 1:
			m[f.name] = int64(b[f.off])
		case 2:
			m[f.name] = int64(binary.NativeEndian.Uint16(b[f.off:]))
		case 4:
			m[f.name] = int64(binary.NativeEndian.Uint32(b[f.off:]))
		case 8:
			m[f.name] = int64(binary.NativeEndian.Uint64(b[f.off:]))
		}
	}
	if len(b) > 6 {
		m["snd_wscale"] = int64(b[6] & 15)
		m["rcv_wscale"] = int64(b[6] >> 4)
	}
	return m
}
