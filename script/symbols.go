package script

import "strconv"

// Linux's numbers for the symbols scripts use. Scripts speak Linux's ABI
// whatever the target: the kernel target passes these to the kernel, the
// synack target interprets them.
var symbols = map[string]int64{
	"AF_UNSPEC": 0, "AF_INET": 2, "AF_INET6": 10, "PF_INET": 2, "PF_INET6": 10,
	"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_NONBLOCK": 0x800, "SOCK_CLOEXEC": 0x80000,
	"IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_IPV6": 41,

	"SOL_SOCKET": 1, "SOL_TCP": 6, "SOL_IP": 0, "SOL_IPV6": 41,

	"SO_DEBUG": 1, "SO_REUSEADDR": 2, "SO_TYPE": 3, "SO_ERROR": 4, "SO_DONTROUTE": 5,
	"SO_BROADCAST": 6, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10,
	"SO_PRIORITY": 12, "SO_LINGER": 13, "SO_REUSEPORT": 15, "SO_RCVLOWAT": 18, "SO_SNDLOWAT": 19,
	"SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33, "SO_MARK": 36,
	"SO_MAX_PACING_RATE": 47, "SO_MEMINFO": 55, "SO_ZEROCOPY": 60,

	"TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_CORK": 3, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5,
	"TCP_KEEPCNT": 6, "TCP_SYNCNT": 7, "TCP_LINGER2": 8, "TCP_DEFER_ACCEPT": 9, "TCP_WINDOW_CLAMP": 10,
	"TCP_INFO": 11, "TCP_QUICKACK": 12, "TCP_CONGESTION": 13, "TCP_MD5SIG": 14,
	"TCP_THIN_LINEAR_TIMEOUTS": 16, "TCP_THIN_DUPACK": 17, "TCP_USER_TIMEOUT": 18, "TCP_REPAIR": 19,
	"TCP_FASTOPEN": 23, "TCP_TIMESTAMP": 24, "TCP_NOTSENT_LOWAT": 25, "TCP_CC_INFO": 26,
	"TCP_SAVE_SYN": 27, "TCP_SAVED_SYN": 28, "TCP_FASTOPEN_CONNECT": 30, "TCP_ULP": 31,
	"TCP_FASTOPEN_KEY": 33, "TCP_FASTOPEN_NO_COOKIE": 34, "TCP_INQ": 36, "TCP_TX_DELAY": 37,

	"IP_TOS": 1, "IP_TTL": 2, "IP_MTU_DISCOVER": 10, "IP_MTU": 14,
	"IP_PMTUDISC_DONT": 0, "IP_PMTUDISC_WANT": 1, "IP_PMTUDISC_DO": 2, "IP_PMTUDISC_PROBE": 3,
	"IPV6_UNICAST_HOPS": 16, "IPV6_MTU_DISCOVER": 23, "IPV6_MTU": 24, "IPV6_V6ONLY": 26, "IPV6_TCLASS": 67,

	"O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_APPEND": 0x400, "O_NONBLOCK": 0x800, "O_CLOEXEC": 0x80000,
	"F_DUPFD": 0, "F_GETFD": 1, "F_SETFD": 2, "F_GETFL": 3, "F_SETFL": 4, "FD_CLOEXEC": 1,

	"MSG_OOB": 0x1, "MSG_PEEK": 0x2, "MSG_DONTROUTE": 0x4, "MSG_TRUNC": 0x20, "MSG_DONTWAIT": 0x40,
	"MSG_EOR": 0x80, "MSG_WAITALL": 0x100, "MSG_ERRQUEUE": 0x2000, "MSG_NOSIGNAL": 0x4000,
	"MSG_MORE": 0x8000, "MSG_ZEROCOPY": 0x4000000, "MSG_FASTOPEN": 0x20000000,

	"SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,

	"POLLIN": 0x1, "POLLPRI": 0x2, "POLLOUT": 0x4, "POLLERR": 0x8, "POLLHUP": 0x10, "POLLNVAL": 0x20,
	"POLLRDNORM": 0x40, "POLLRDBAND": 0x80, "POLLWRNORM": 0x100, "POLLWRBAND": 0x200, "POLLRDHUP": 0x2000,
	"EPOLLIN": 0x1, "EPOLLPRI": 0x2, "EPOLLOUT": 0x4, "EPOLLERR": 0x8, "EPOLLHUP": 0x10,
	"EPOLLRDHUP": 0x2000, "EPOLLONESHOT": 1 << 30, "EPOLLET": 1 << 31,
	"EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3,

	"SIOCINQ": 0x541B, "FIONREAD": 0x541B, "SIOCOUTQ": 0x5411, "TIOCOUTQ": 0x5411, "SIOCOUTQNSD": 0x894B, "FIONBIO": 0x5421,

	// tcp_info's state and ca_state values, and its options bits, for
	// code blocks.
	"TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4, "TCP_FIN_WAIT2": 5,
	"TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11,
	"TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3, "TCP_CA_Loss": 4,
	"TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
	"TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32,
}

// errnos maps Linux errno names to their numbers.
var errnos = map[string]int64{
	"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "EWOULDBLOCK": 11,
	"ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EINVAL": 22, "ENFILE": 23,
	"EMFILE": 24, "ENOTTY": 25, "ENOSPC": 28, "EPIPE": 32, "ERANGE": 34, "ENOSYS": 38, "ENODATA": 61,
	"EPROTO": 71, "ENOTSOCK": 88, "EDESTADDRREQ": 89, "EMSGSIZE": 90, "EPROTOTYPE": 91,
	"ENOPROTOOPT": 92, "EPROTONOSUPPORT": 93, "ESOCKTNOSUPPORT": 94, "EOPNOTSUPP": 95, "ENOTSUP": 95,
	"EAFNOSUPPORT": 97, "EADDRINUSE": 98, "EADDRNOTAVAIL": 99, "ENETDOWN": 100, "ENETUNREACH": 101,
	"ENETRESET": 102, "ECONNABORTED": 103, "ECONNRESET": 104, "ENOBUFS": 105, "EISCONN": 106,
	"ENOTCONN": 107, "ESHUTDOWN": 108, "ETIMEDOUT": 110, "ECONNREFUSED": 111, "EHOSTDOWN": 112,
	"EHOSTUNREACH": 113, "EALREADY": 114, "EINPROGRESS": 115,
}

// errnoName returns the name of a Linux errno number.
func errnoName(n int64) string {
	best := ""
	for k, v := range errnos {
		// EAGAIN over EWOULDBLOCK, EOPNOTSUPP over ENOTSUP: the shorter
		// or first alphabetically, for a stable answer.
		if v == n && (best == "" || k < best) {
			best = k
		}
	}
	if best == "" {
		return "errno " + strconv.FormatInt(n, 10)
	}
	return best
}

// errnoText is strerror's text for the errnos scripts usually write.
func errnoText(name string) string {
	switch name {
	case "EINPROGRESS":
		return "Operation now in progress"
	case "EAGAIN", "EWOULDBLOCK":
		return "Resource temporarily unavailable"
	case "EPIPE":
		return "Broken pipe"
	case "ECONNRESET":
		return "Connection reset by peer"
	case "ECONNREFUSED":
		return "Connection refused"
	case "ETIMEDOUT":
		return "Connection timed out"
	case "ENOTCONN":
		return "Transport endpoint is not connected"
	case "EINVAL":
		return "Invalid argument"
	}
	return "note"
}

// ICMP types and codes a script can name, with their IPv4 and IPv6
// numbers (-1: none in that family).
type icmpNum struct{ v4, v6 int }

var icmpTypes = map[string]icmpNum{
	"echo_reply": {0, 129}, "unreachable": {3, 1}, "dest_unreachable": {3, 1}, "destination_unreachable": {3, 1},
	"source_quench": {4, -1}, "redirect": {5, 137}, "echo_request": {8, 128},
	"time_exceeded": {11, 3}, "parameter_problem": {12, 4}, "param_problem": {12, 4},
	"packet_too_big": {3, 2},
}

var icmpCodes = map[string]icmpNum{
	"net_unreachable": {0, 0}, "no_route": {0, 0}, "host_unreachable": {1, 3}, "address_unreachable": {1, 3},
	"protocol_unreachable": {2, -1}, "port_unreachable": {3, 4}, "frag_needed": {4, -1},
	"source_route_failed": {5, -1}, "net_unknown": {6, 0}, "host_unknown": {7, 3}, "host_isolated": {8, 3},
	"net_prohibited": {9, 1}, "host_prohibited": {10, 1}, "admin_prohibited": {13, 1},
	"packet_filtered": {13, 1}, "beyond_scope": {-1, 2},
	"ttl_exceeded": {0, 0}, "reassembly_time_exceeded": {1, 1},
}
