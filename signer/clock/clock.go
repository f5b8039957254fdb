// Package clock is the daemon's one source of the time. It is made once,
// at start, and handed to every part that reads the time (orders, the
// factors, the admin service, the audit seal), so that a test moves all
// of them together and none reads the system clock behind its back.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the machine's clock.
type System struct{}

func (System) Now() time.Time { return time.Now() }

// Shifted is the machine's clock moved by an offset that may change while
// requests are served: tests use it to pass an order's expiry or a TOTP
// step without waiting.
type Shifted struct{ offset atomic.Int64 }

var _ Clock = (*Shifted)(nil)

func (s *Shifted) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Set makes the clock run d ahead of the machine's (behind, for d < 0).
func (s *Shifted) Set(d time.Duration) { s.offset.Store(int64(d)) }

// Advance moves the clock d further.
func (s *Shifted) Advance(d time.Duration) { s.offset.Add(int64(d)) }
