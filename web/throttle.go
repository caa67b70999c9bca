package web

import (
	"time"

	"github.com/baohan-dev/baohan/internal/addrlimit"
)

// Defaults of the login throttle: per client address, 10 password
// attempts at once, then one every 6 seconds (10 a minute). A successful
// login gives its attempt back, so that the staff of an office behind one
// NAT address can all log in at nine.
const (
	DefaultLoginBurst    = 10
	DefaultLoginInterval = 6 * time.Second
)

// loginThrottle is the per-address token bucket of package addrlimit.
type loginThrottle = addrlimit.Limiter

func newLoginThrottle(burst int, interval time.Duration) *loginThrottle {
	return addrlimit.New(burst, interval)
}
