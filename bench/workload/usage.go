package workload

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
)

// memory is a snapshot of what a process holds.
type memory struct {
	heap   uint64 // live heap after GC (HeapAlloc)
	stacks uint64 // goroutine stacks (StackInuse)
	rss    uint64 // resident set size, from /proc/self/status
	slab   uint64 // the kernel's slab memory, machine-wide (/proc/meminfo)
	gs     int    // goroutines
}

// measureMemory collects garbage twice (the second pass frees what the
// first one's finalizers released) and reads the figures.
func measureMemory() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{
		heap:   ms.HeapAlloc,
		stacks: ms.StackInuse,
		rss:    procField("/proc/self/status", "VmRSS:"),
		slab:   procField("/proc/meminfo", "Slab:"),
		gs:     runtime.NumGoroutine(),
	}
}

// procField reads a "Name:   123 kB" line of a /proc file, in bytes; 0 if
// absent.
func procField(path, name string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(name)) {
			continue
		}
		fields := bytes.Fields(line[len(name):])
		if len(fields) == 0 {
			return 0
		}
		v, _ := strconv.ParseUint(string(fields[0]), 10, 64)
		if len(fields) > 1 && string(fields[1]) == "kB" {
			v <<= 10
		}
		return v
	}
	return 0
}
