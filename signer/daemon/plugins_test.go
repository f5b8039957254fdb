package daemon_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/factors"
)

// The platform under faults, through segld: two outbox adapters, first
// and second, each with a file of its own, and a user with a phone.
type faults struct {
	*env
	first, second string // the adapters' outbox files
	last          string // the order started last
}

func startFaults(t *testing.T, policy host.Policy, change func(*config.Config)) *faults {
	t.Helper()
	dir := t.TempDir()
	f := &faults{first: filepath.Join(dir, "first.jsonl"), second: filepath.Join(dir, "second.jsonl")}
	d := daemontest.StartWith(t, daemontest.Options{
		Factors:      []factors.Factor{testFactor{}},
		Adapters:     []daemontest.Adapter{daemontest.Outbox("first", f.first), daemontest.Outbox("second", f.second)},
		PluginPolicy: policy,
		Config: func(c *config.Config) {
			c.SMS.CodesPerOrder, c.SMS.PerUserHour = 10, 100
			if change != nil {
				change(c)
			}
		},
	})
	f.env = &env{t: t, dev: d.Dev, d: d, addr: d.Addr, rp: clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey), off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	f.createUser("karen", "hemmeligt1")
	if code := f.call(f.off, "PUT", "/admin/v1/users/karen/phone", map[string]string{"phone": "+4512345678"}, nil); code != 200 {
		t.Fatalf("phone set: %d", code)
	}
	return f
}

// lines reads an outbox file.
func (f *faults) lines(path string) []outboxLine {
	f.t.Helper()
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	var out []outboxLine
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var l outboxLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func (f *faults) plugin(name string) host.Status {
	f.t.Helper()
	for _, s := range f.d.Plugins() {
		if s.Name == name {
			return s
		}
	}
	f.t.Fatalf("no plugin %s", name)
	return host.Status{}
}

// waitPlugin waits until the plugin is as ok says.
func (f *faults) waitPlugin(name string, what string, ok func(host.Status) bool) host.Status {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := f.plugin(name)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("plugin %s is not %s: %+v", name, what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// order starts a login order and asks for its SMS code.
func (f *faults) order() (ref string, code int, sent map[string]any) {
	f.t.Helper()
	if f.last != "" { // one order at a time per user
		f.call(f.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": f.last}, nil)
	}
	ref = f.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"}).OrderRef
	f.last = ref
	code, sent = f.smsChallenge(ref)
	return ref, code, sent
}

// attempts lists the attempts of one order, oldest first.
func (f *faults) attempts(ref string) []admin.SMSView {
	var out []admin.SMSView
	views := f.smsAttempts()
	for i := len(views) - 1; i >= 0; i-- {
		if views[i].OrderRef == ref {
			out = append(out, views[i])
		}
	}
	return out
}

func running(s host.Status) bool { return s.State == host.Running }

// SIGKILL while idle: started again, and the next send goes through it.
func TestPluginKilledIdle(t *testing.T) {
	f := startFaults(t, host.Policy{Health: 100 * time.Millisecond, BackoffMin: 50 * time.Millisecond}, nil)
	old := f.plugin("first")
	syscall.Kill(old.PID, syscall.SIGKILL)
	s := f.waitPlugin("first", "running again", func(s host.Status) bool { return running(s) && s.PID != old.PID })
	if s.Restarts != 1 || !strings.Contains(s.LastError, "exited") {
		t.Errorf("after a restart: %+v", s)
	}
	if _, code, sent := f.order(); code != 200 || sent["delivery"] != "sent" {
		t.Fatalf("after the restart: %d %v", code, sent)
	}
	if n, m := len(f.lines(f.first)), len(f.lines(f.second)); n != 1 || m != 0 {
		t.Fatalf("outboxes first %d, second %d; want the first to send", n, m)
	}
}

// SIGSTOP: a plugin that stopped answering is found out by a health
// check with a deadline before anything is sent to it, so the next
// adapter sends — and nothing reaches the user twice.
func TestPluginStoppedBeforeSend(t *testing.T) {
	// No periodic health check within the test: the check before the
	// send is what finds the stopped plugin.
	f := startFaults(t, host.Policy{Health: time.Hour, PingTimeout: 300 * time.Millisecond, Fresh: 100 * time.Millisecond}, nil)
	old := f.plugin("first")
	syscall.Kill(old.PID, syscall.SIGSTOP)
	defer syscall.Kill(old.PID, syscall.SIGCONT)
	time.Sleep(150 * time.Millisecond) // past Fresh: it is checked before use
	ref, code, sent := f.order()
	if code != 200 || sent["delivery"] != "sent" {
		t.Fatalf("challenge: %d %v", code, sent)
	}
	if n, m := len(f.lines(f.first)), len(f.lines(f.second)); n != 0 || m != 1 {
		t.Fatalf("outboxes first %d, second %d; want the second to send", n, m)
	}
	as := f.attempts(ref)
	if len(as) != 2 || as[0].Adapter != "first" || as[0].State != "failed" || !strings.Contains(as[0].Reason, "health check") ||
		as[1].Adapter != "second" || as[1].State != "delivered" && as[1].State != "accepted" {
		t.Fatalf("attempts %+v", as)
	}
	// The stopped process was replaced.
	f.waitPlugin("first", "replaced", func(s host.Status) bool { return running(s) && s.PID != old.PID })
}

// SIGSTOP after the plugin was vouched for: the call is sent into a
// process that does not answer, the deadline fails it, and its outcome
// is unknown — not sent again through the next adapter. A new code
// works, and voids the first.
func TestPluginStoppedDuringSend(t *testing.T) {
	f := startFaults(t, host.Policy{Health: time.Hour, Fresh: time.Hour, PingTimeout: 300 * time.Millisecond},
		func(c *config.Config) { c.SMS.Timeout = config.Duration(500 * time.Millisecond) })
	old := f.plugin("first")
	syscall.Kill(old.PID, syscall.SIGSTOP)
	defer syscall.Kill(old.PID, syscall.SIGCONT)
	ref, code, sent := f.order()
	if code != 200 || sent["delivery"] != "unknown" {
		t.Fatalf("challenge into a stopped plugin: %d %v; want delivery unknown", code, sent)
	}
	if n := len(f.lines(f.second)); n != 0 {
		t.Fatalf("the second adapter sent %d messages: an unknown outcome was sent again", n)
	}
	as := f.attempts(ref)
	if len(as) != 1 || as[0].State != "unknown" || !strings.Contains(as[0].Reason, "deadline") {
		t.Fatalf("attempts %+v", as)
	}
	// The call's failure had the plugin checked: it did not answer, so
	// it was replaced; the user's new code goes through.
	f.waitPlugin("first", "replaced", func(s host.Status) bool { return running(s) && s.PID != old.PID })
	if code, sent := f.smsChallenge(ref); code != 200 || sent["delivery"] != "sent" {
		t.Fatalf("a new code: %d %v", code, sent)
	}
	if n := len(f.lines(f.first)); n != 1 {
		t.Fatalf("the first outbox has %d lines (the stopped process must not have written)", n)
	}
	code1 := codeInText.FindStringSubmatch(f.lines(f.first)[0].Text)[1]
	f.factor(ref, "password", "hemmeligt1")
	if r := f.factor(ref, "dlcode", code1); !r.Accepted {
		t.Fatalf("the new code: %+v", r)
	}
}

// SIGKILL during a send: the call breaks, the outcome is unknown and not
// sent again elsewhere; the plugin is started again and a new code works.
func TestPluginKilledDuringSend(t *testing.T) {
	f := startFaults(t, host.Policy{Health: time.Hour, Fresh: time.Hour, BackoffMin: 50 * time.Millisecond}, nil)
	old := f.plugin("first")
	// Stopped, the plugin holds the call unanswered; then it is killed
	// while the call is in it.
	syscall.Kill(old.PID, syscall.SIGSTOP)
	ref := f.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"}).OrderRef
	type answer struct {
		code int
		sent map[string]any
	}
	done := make(chan answer, 1)
	other := *f.env // its own lastHeader
	go func() {
		code, sent := other.smsChallenge(ref)
		done <- answer{code, sent}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for as := f.attempts(ref); len(as) == 0 || as[0].State != "sending"; as = f.attempts(ref) {
		if time.Now().After(deadline) {
			t.Fatalf("no send in flight: %+v", as)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// "sending" is stored before the plugin is taken, and the take does
	// not look (Fresh is an hour): by the time a poll over HTTP sees it,
	// the call is past the take, and a kill from then on, before or after
	// the call reaches the stopped process, leaves the outcome unknown.
	// The pause makes "in the process" the likelier of the two.
	time.Sleep(50 * time.Millisecond)
	syscall.Kill(old.PID, syscall.SIGKILL)
	a := <-done
	if a.code != 200 || a.sent["delivery"] != "unknown" {
		t.Fatalf("challenge: %d %v; want delivery unknown", a.code, a.sent)
	}
	as := f.attempts(ref)
	if len(as) != 1 || as[0].State != "unknown" || strings.Contains(as[0].Reason, "deadline") {
		t.Fatalf("attempts %+v; want one, unknown, broken off (not timed out)", as)
	}
	if n := len(f.lines(f.second)); n != 0 {
		t.Fatalf("the second adapter sent %d: an unknown outcome was sent again", n)
	}
	f.waitPlugin("first", "running again", func(s host.Status) bool { return running(s) && s.PID != old.PID })
	if code, sent := f.smsChallenge(ref); code != 200 || sent["delivery"] != "sent" {
		t.Fatalf("a new code: %d %v", code, sent)
	}
	if n := len(f.lines(f.first)); n != 1 {
		t.Fatalf("first outbox: %d lines", n)
	}
}

// Three crashes within a minute open the breaker: sends go to the next
// adapter until it closes, then through the first again.
func TestPluginBreaker(t *testing.T) {
	f := startFaults(t, host.Policy{Health: 50 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BreakerOpen: 5 * time.Second}, nil)
	for i := range 3 {
		pid := f.plugin("first").PID
		syscall.Kill(pid, syscall.SIGKILL)
		if i < 2 {
			f.waitPlugin("first", "restarted", func(s host.Status) bool { return running(s) && s.PID != pid })
		}
	}
	s := f.waitPlugin("first", "broken", func(s host.Status) bool { return s.State == host.Broken })
	if s.BrokenUntil.IsZero() {
		t.Fatalf("broken without an end: %+v", s)
	}
	var listed struct {
		Plugins []struct{ Name, State, BrokenUntil string }
	}
	f.call(f.off, "GET", "/admin/v1/plugins", nil, &listed)
	if len(listed.Plugins) != 2 || listed.Plugins[0].State != "broken" || listed.Plugins[0].BrokenUntil == "" {
		t.Fatalf("GET /admin/v1/plugins: %+v", listed)
	}
	ref, code, sent := f.order()
	if time.Now().After(s.BrokenUntil) {
		t.Fatalf("the order took until after the breaker closed (%s): the machine is too slow for BreakerOpen", s.BrokenUntil)
	}
	if code != 200 || sent["delivery"] != "sent" || len(f.lines(f.second)) != 1 {
		t.Fatalf("with the breaker open: %d %v, second has %d", code, sent, len(f.lines(f.second)))
	}
	if as := f.attempts(ref); len(as) != 2 || as[0].State != "failed" || !strings.Contains(as[0].Reason, "broken") {
		t.Fatalf("attempts %+v", as)
	}
	f.waitPlugin("first", "running after the breaker closed", running)
	if _, code, _ := f.order(); code != 200 || len(f.lines(f.first)) != 1 || len(f.lines(f.second)) != 1 {
		t.Fatalf("after recovery: %d, first %d, second %d", code, len(f.lines(f.first)), len(f.lines(f.second)))
	}
}

// A plugin binary that is not the pinned one: segld does not start, and
// says which plugin and both sums.
func TestPluginChecksumRefused(t *testing.T) {
	d := daemontest.StartWith(t, daemontest.Options{SMS: true})
	cfg, err := config.Load(d.Dev.Config)
	if err != nil {
		t.Fatal(err)
	}
	good := cfg.Plugins[0].SHA256
	bad := strings.Repeat("0", 64)
	cfg.Plugins[0].SHA256 = bad
	_, err = daemon.Open(cfg, slog.New(slog.DiscardHandler), daemon.Options{})
	if err == nil || !strings.Contains(err.Error(), "plugin "+cfg.Plugins[0].Name) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a wrong checksum: %v", err)
	}
}
