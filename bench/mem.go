package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemPeak is what a MemSampler saw.
type MemPeak struct {
	// BaseHeap is the heap in use when sampling started (after a GC).
	BaseHeap uint64
	// PeakHeap is the largest heap in use seen (runtime.MemStats.HeapInuse:
	// spans with at least one object, live or not yet collected).
	PeakHeap uint64
	// PeakSys is the largest memory obtained from the OS by the Go
	// runtime (runtime.MemStats.Sys).
	PeakSys uint64
	// PeakRSS is the process's peak resident set (VmHWM) over the
	// sampling, when /proc allows resetting it; else 0.
	PeakRSS uint64
	// PeakLive is the largest live heap seen (marked live by the latest
	// GC; /gc/heap/live:bytes): the memory really needed, without the
	// garbage the pacer lets accumulate between collections.
	PeakLive uint64
	// BaseLive is the live heap when sampling started (after a GC).
	BaseLive uint64
	Samples  int
}

// LiveGrowth is PeakLive above BaseLive: how much more memory the
// measured work really held at its most.
func (m MemPeak) LiveGrowth() uint64 {
	if m.PeakLive < m.BaseLive {
		return 0
	}
	return m.PeakLive - m.BaseLive
}

// HeapGrowth is PeakHeap above BaseHeap.
func (m MemPeak) HeapGrowth() uint64 {
	if m.PeakHeap < m.BaseHeap {
		return 0
	}
	return m.PeakHeap - m.BaseHeap
}

// MemSampler samples this process's memory every interval until Stop.
type MemSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak MemPeak
	rss  bool
}

var memNames = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/live:bytes",
}

// readMem returns the equivalents of MemStats.HeapInuse and Sys, and
// the live heap.
func readMem(s []metrics.Sample) (heapInuse, sys, live uint64) {
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return v(0) + v(1), v(2), v(3)
}

// StartMemSampler collects garbage (so that the base is the live heap),
// resets the process's VmHWM when the kernel allows (writing 5 to
// /proc/self/clear_refs) and samples every interval (default 5ms).
func StartMemSampler(interval time.Duration) *MemSampler {
	if interval <= 0 {
		interval = 5 * time.Millisecond
	}
	runtime.GC()
	m := &MemSampler{stop: make(chan struct{}), done: make(chan struct{})}
	m.rss = ResetPeakRSS(os.Getpid()) == nil
	s := make([]metrics.Sample, len(memNames))
	for i, n := range memNames {
		s[i].Name = n
	}
	h, sys, live := readMem(s)
	m.peak = MemPeak{BaseHeap: h, PeakHeap: h, PeakSys: sys, PeakLive: live, BaseLive: live, Samples: 1}
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
			h, sys, live := readMem(s)
			m.mu.Lock()
			m.peak.PeakHeap = max(m.peak.PeakHeap, h)
			m.peak.PeakSys = max(m.peak.PeakSys, sys)
			m.peak.PeakLive = max(m.peak.PeakLive, live)
			m.peak.Samples++
			m.mu.Unlock()
		}
	}()
	return m
}

// Stop ends the sampling and returns the peaks.
func (m *MemSampler) Stop() MemPeak {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peak
	if m.rss {
		if v, err := ProcPeakRSS(os.Getpid()); err == nil {
			p.PeakRSS = v
		}
	}
	return p
}

// ProcPeakRSS returns the peak resident set size (VmHWM) of process pid
// in bytes, from /proc/PID/status (Linux).
func ProcPeakRSS(pid int) (uint64, error) {
	return procStatusField(pid, "VmHWM:")
}

// ProcRSS returns the current resident set size (VmRSS) of process pid.
func ProcRSS(pid int) (uint64, error) {
	return procStatusField(pid, "VmRSS:")
}

func procStatusField(pid int, field string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field) {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, field))
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s %q: %w", pid, field, line, err)
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s line", pid, strings.TrimSuffix(field, ":"))
}

// ResetPeakRSS resets VmHWM of process pid to its current RSS (Linux
// 4.0+, writing 5 to /proc/PID/clear_refs; the caller must own pid).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// fmtBytes prints a size in binary units with three significant digits.
func fmtBytes(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n < 1<<10:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.0fKiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	}
}
