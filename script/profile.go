package script

// linuxDefaults are the settings packetdrill's defaults.sh makes before
// every test, which both targets apply before a script's own sysctls: the
// kernel target writes them in its namespace, the synack target maps them
// to options. A script so runs in the same environment whatever its init
// command says.
var linuxDefaults = []Sysctl{
	{Name: "net.ipv4.tcp_rmem", Value: "4096 540000 15728640"},
	{Name: "net.ipv4.tcp_wmem", Value: "4096 262144 4194304"},
	{Name: "net.ipv4.tcp_timestamps", Value: "1"},
	{Name: "net.ipv4.tcp_sack", Value: "1"},
	{Name: "net.ipv4.tcp_dsack", Value: "1"},
	{Name: "net.ipv4.tcp_window_scaling", Value: "1"},
	{Name: "net.ipv4.tcp_syn_retries", Value: "5"},
	// Linux 6.x resends the first SYNs every second, not after a
	// doubling timeout (RFC 6298 §5.5), which the scripts expect.
	{Name: "net.ipv4.tcp_syn_linear_timeouts", Value: "0"},
	{Name: "net.ipv4.tcp_synack_retries", Value: "5"},
	{Name: "net.ipv4.tcp_frto", Value: "2"},
	{Name: "net.ipv4.tcp_reordering", Value: "3"},
	{Name: "net.ipv4.tcp_congestion_control", Value: "cubic"},
	{Name: "net.ipv4.tcp_slow_start_after_idle", Value: "0"},
	{Name: "net.ipv4.tcp_early_retrans", Value: "4"},
	{Name: "net.ipv4.tcp_recovery", Value: "1"},
	{Name: "net.ipv4.tcp_tso_win_divisor", Value: "3"},
	{Name: "net.ipv4.tcp_ecn", Value: "0"},
	{Name: "net.ipv4.tcp_pacing_ss_ratio", Value: "200"},
	{Name: "net.ipv4.tcp_pacing_ca_ratio", Value: "120"},
	{Name: "net.ipv4.tcp_notsent_lowat", Value: "4294967295"},
	{Name: "net.ipv4.tcp_fastopen", Value: "1"},
	{Name: "net.ipv4.tcp_syncookies", Value: "1"},
	{Name: "net.ipv4.tcp_min_tso_segs", Value: "2"},
	{Name: "net.ipv4.tcp_autocorking", Value: "1"},
	// Ours: a namespace's metrics cache would carry one connection's RTT
	// and ssthresh into the next of the same script, and synack has no
	// such cache: each connection starts fresh on both targets.
	{Name: "net.ipv4.tcp_no_metrics_save", Value: "1"},
}

// settings returns the defaults followed by the script's sysctls, which win.
func settings(setup *Setup) []Sysctl {
	out := append([]Sysctl(nil), linuxDefaults...)
	for i := range out {
		out[i].Where = "defaults"
	}
	if setup == nil {
		return out
	}
	for _, s := range setup.Sysctls {
		replaced := false
		for i := range out {
			if out[i].Name == s.Name {
				out[i] = s
				replaced = true
			}
		}
		if !replaced {
			out = append(out, s)
		}
	}
	return out
}

// where says where a setting came from, for messages.
func where(s Sysctl) string {
	if s.Where == "" {
		return "defaults"
	}
	return s.Where
}
