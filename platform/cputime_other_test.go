//go:build !unix

package platform

import "time"

// processCPU is not measured here (0): the cpu-ms/op metric reads 0.
func processCPU() time.Duration { return 0 }
