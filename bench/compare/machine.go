package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// machine describes where a comparison ran: absolute figures only mean
// something next to it.
type machine struct {
	Cores  int    `json:"cores"`
	CPU    string `json:"cpu"`    // model name from /proc/cpuinfo
	Kernel string `json:"kernel"` // /proc/sys/kernel/osrelease
	Go     string `json:"go"`
	GVisor string `json:"gvisor"` // the gVisor version the peer module pins
}

func describeMachine(root string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(root + "/bench/peers/gvisor/go.mod"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "gvisor.dev/gvisor" {
				m.GVisor = f[1]
			}
		}
	}
	return m
}
