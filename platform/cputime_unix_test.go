//go:build unix

package platform

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used so
// far, all threads: on a shared machine it moves much less from run to
// run than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
