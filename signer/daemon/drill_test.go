//go:build drill

// Drills too long for make test: make drill runs them (make test vets
// them, so they build).

package daemon_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/segl/segl/plugins/host"
)

// The breaker at its real timings: 3 crashes within the minute open it
// for a minute, sends go to the next adapter meanwhile, and the first
// adapter is back within a health check after the minute.
func TestDrillBreakerAtRealTimings(t *testing.T) {
	f := startFaults(t, host.Policy{}, nil)
	for i := range 3 {
		pid := f.plugin("first").PID
		syscall.Kill(pid, syscall.SIGKILL)
		if i < 2 {
			// Backoff 100 ms, then 200 ms; the health check (5 s) or a
			// caller finds the process gone.
			f.waitPlugin("first", "restarted", func(s host.Status) bool { return running(s) && s.PID != pid })
		}
	}
	s := f.waitPlugin("first", "broken", func(s host.Status) bool { return s.State == host.Broken })
	opened := time.Now()
	if d := time.Until(s.BrokenUntil); d < 50*time.Second || d > time.Minute {
		t.Fatalf("broken for %s; want a minute", d)
	}
	for i := 0; time.Since(opened) < 50*time.Second; i++ {
		if _, code, sent := f.order(); code != 200 || sent["delivery"] != "sent" {
			t.Fatalf("send %d with the breaker open: %d %v", i, code, sent)
		}
		time.Sleep(5 * time.Second)
	}
	if n := len(f.lines(f.first)); n != 0 {
		t.Fatalf("the broken adapter sent %d", n)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !running(f.plugin("first")) {
		if time.Now().After(deadline) {
			t.Fatalf("not back after the breaker: %+v", f.plugin("first"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if back := time.Since(opened); back < 55*time.Second || back > 70*time.Second {
		t.Errorf("back %s after the breaker opened; want a minute and at most a health check more", back)
	}
	if _, code, _ := f.order(); code != 200 || len(f.lines(f.first)) != 1 {
		t.Fatalf("after recovery: %d, first sent %d", code, len(f.lines(f.first)))
	}
}

// A plugin killed every second under a stream of codes: every challenge
// is answered, no message goes out twice, and every attempt ends in a
// state that says what happened.
func TestDrillKilledUnderLoad(t *testing.T) {
	f := startFaults(t, host.Policy{BackoffMin: 50 * time.Millisecond, BreakerCount: 1000}, nil)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if s := f.d.Plugins(); len(s) > 0 && s[0].PID > 0 {
				syscall.Kill(s[0].PID, syscall.SIGKILL)
			}
		}
	}()
	outcomes := map[string]int{}
	for i := range 90 {
		if i%15 == 14 {
			f.d.Clock.Advance(61 * time.Minute) // past the hour's 20 challenges
		}
		_, code, sent := f.order()
		if code != 200 {
			t.Fatalf("challenge %d: %d %v", i, code, sent)
		}
		outcomes[sent["delivery"].(string)]++
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	seen := map[string]bool{}
	for _, l := range append(f.lines(f.first), f.lines(f.second)...) {
		if seen[l.Key] {
			t.Fatalf("attempt %s went out twice", l.Key)
		}
		seen[l.Key] = true
	}
	states := map[string]int{}
	for _, a := range f.smsAttempts() {
		states[a.State]++
		if a.State == "sending" {
			t.Errorf("attempt %+v never ended", a)
		}
	}
	t.Logf("outcomes %v, attempts %v, messages %d", outcomes, states, len(seen))
	if outcomes["sent"] < 60 {
		t.Errorf("only %d of 90 sent", outcomes["sent"])
	}
}
