package host_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms"
)

// outboxBinary builds the outbox plugin into a directory of its own.
func outboxBinary(t *testing.T) (path, sum string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	os.Mkdir(dir, 0o755)
	path = filepath.Join(dir, "segl-sms-outbox")
	if out, err := exec.Command("go", "build", "-o", path, "github.com/segl/segl/cmd/segl-sms-outbox").CombinedOutput(); err != nil {
		t.Fatalf("build the plugin: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return path, hex.EncodeToString(s[:])
}

var fast = host.Policy{Health: 100 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	BreakerCount: 3, BreakerSpan: time.Minute, BreakerOpen: time.Second}

func gateway(t *testing.T, p *host.Plugin) sms.Gateway {
	t.Helper()
	raw, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return raw.(sms.Gateway)
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z" // a zombie is gone, not yet reaped
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestOutboxPluginLifecycle(t *testing.T) {
	bin, sum := outboxBinary(t)
	outbox := filepath.Join(t.TempDir(), "sms", "outbox.jsonl")
	h := host.New(slog.New(slog.NewTextHandler(io.Discard, nil)), fast)
	defer h.Stop()
	p, err := h.Add(context.Background(), sms.HostContract, host.Spec{Name: "outbox", Command: bin, SHA256: sum, Settings: map[string]string{"file": outbox}})
	if err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	if st.State != host.Running || st.PID == 0 || !alive(st.PID) || !strings.Contains(st.Description, "outbox") {
		t.Fatalf("status %+v", st)
	}
	g := gateway(t, p)
	id, err := g.Send(context.Background(), sms.Message{Key: "m1", To: "+4512345678", Text: "Code 123456", Encoding: sms.GSM7})
	if err != nil || id == "" {
		t.Fatalf("send: %q %v", id, err)
	}
	again, err := g.Send(context.Background(), sms.Message{Key: "m1", To: "+4512345678", Text: "Code 123456", Encoding: sms.GSM7})
	if err != nil || again != id || len(lines(t, outbox)) != 1 {
		t.Fatalf("a repeated key sent again: %q %v, %d lines", again, err, len(lines(t, outbox)))
	}

	// SIGKILL while idle: started again, and the next send works.
	syscall.Kill(st.PID, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := p.Status(); s.State == host.Running && s.PID != st.PID && s.Restarts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted: %+v", p.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := gateway(t, p).Send(context.Background(), sms.Message{Key: "m2", To: "+4512345678", Text: "Code 654321", Encoding: sms.GSM7}); err != nil {
		t.Fatalf("send after the restart: %v", err)
	}
	// The restarted plugin read the outbox back: m1 is not sent twice.
	if _, err := gateway(t, p).Send(context.Background(), sms.Message{Key: "m1", To: "+4512345678", Text: "Code 123456", Encoding: sms.GSM7}); err != nil || len(lines(t, outbox)) != 2 {
		t.Fatalf("after the restart: %v, %d lines", err, len(lines(t, outbox)))
	}

	// Three crashes within the minute: broken, callers told at once; then
	// it is tried again when the breaker closes.
	for range 3 {
		pid := p.Status().PID
		syscall.Kill(pid, syscall.SIGKILL)
		for alive(pid) || p.Status().PID == pid {
			time.Sleep(10 * time.Millisecond)
			if s := p.Status(); s.State == host.Broken {
				break
			}
		}
	}
	if _, err := p.Get(context.Background()); !errors.Is(err, host.ErrBroken) {
		t.Fatalf("after three crashes: %v, %+v", err, p.Status())
	}
	deadline = time.Now().Add(10 * time.Second)
	for p.Status().State != host.Running {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker did not close: %+v", p.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	last := p.Status().PID
	h.Stop()
	time.Sleep(50 * time.Millisecond)
	if alive(last) {
		t.Fatalf("plugin process %d still runs after Stop", last)
	}
}

func TestRefusedBinaries(t *testing.T) {
	bin, sum := outboxBinary(t)
	h := host.New(slog.New(slog.NewTextHandler(io.Discard, nil)), fast)
	defer h.Stop()
	add := func(s host.Spec) error {
		s.Settings = map[string]string{"file": filepath.Join(t.TempDir(), "o.jsonl")}
		_, err := h.Add(context.Background(), sms.HostContract, s)
		return err
	}
	wrong := strings.Repeat("0", 64)
	if err := add(host.Spec{Name: "x", Command: bin, SHA256: wrong}); err == nil || !strings.Contains(err.Error(), sum) || !strings.Contains(err.Error(), wrong) {
		t.Fatalf("a wrong checksum: %v", err)
	}
	link := filepath.Join(filepath.Dir(bin), "link")
	os.Symlink(bin, link)
	if err := add(host.Spec{Name: "x", Command: link, SHA256: sum}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("a symlink: %v", err)
	}
	os.Chmod(filepath.Dir(bin), 0o777)
	if err := add(host.Spec{Name: "x", Command: bin, SHA256: sum}); err == nil || !strings.Contains(err.Error(), "writable by its group or others") {
		t.Fatalf("a directory anyone can write: %v", err)
	}
	os.Chmod(filepath.Dir(bin), 0o755)
	if err := add(host.Spec{Name: "x", Command: "segl-sms-outbox", SHA256: sum}); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("a relative command: %v", err)
	}
	if err := add(host.Spec{Name: "x", Command: bin, SHA256: sum}); err != nil {
		t.Fatalf("the right binary: %v", err)
	}
	// Settings the adapter does not know are refused at its start.
	_, err := h.Add(context.Background(), sms.HostContract, host.Spec{Name: "y", Command: bin, SHA256: sum, Settings: map[string]string{"fil": "x"}})
	if err == nil || !strings.Contains(err.Error(), "file") {
		t.Fatalf("a misspelt setting: %v", err)
	}
}

func TestOtherContractVersionRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	os.Mkdir(dir, 0o755)
	bin := filepath.Join(dir, "v2")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/v2plugin").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(bin)
	s := sha256.Sum256(b)
	h := host.New(slog.New(slog.NewTextHandler(io.Discard, nil)), fast)
	defer h.Stop()
	_, err := h.Add(context.Background(), sms.HostContract, host.Spec{Name: "v2", Command: bin, SHA256: hex.EncodeToString(s[:])})
	if err == nil || !strings.Contains(err.Error(), "Plugin version: 2") || !strings.Contains(err.Error(), "segld (1)") {
		t.Fatalf("a plugin of contract version 2: %v", err)
	}
}

// A crash that a caller finds, before any health check does, counts
// toward the breaker all the same.
func TestCrashFoundByCallerCounts(t *testing.T) {
	bin, sum := outboxBinary(t)
	policy := fast
	policy.Health = time.Hour // no health check: only callers look
	policy.Fresh = time.Nanosecond
	// Every Get checks: a process whose exit go-plugin has not seen yet
	// fails the check, one whose exit it has seen is found exited, and
	// either is a crash that counts.
	h := host.New(slog.New(slog.NewTextHandler(io.Discard, nil)), policy)
	defer h.Stop()
	p, err := h.Add(context.Background(), sms.HostContract, host.Spec{Name: "outbox", Command: bin, SHA256: sum,
		Settings: map[string]string{"file": filepath.Join(t.TempDir(), "o.jsonl")}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		pid := p.Status().PID
		syscall.Kill(pid, syscall.SIGKILL)
		for alive(pid) {
			time.Sleep(5 * time.Millisecond)
		}
		_, err := p.Get(context.Background())
		if i < 2 {
			if !errors.Is(err, host.ErrDown) {
				t.Fatalf("crash %d: %v; want down, during the backoff", i+1, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for _, err := p.Get(context.Background()); err != nil; _, err = p.Get(context.Background()) {
				if time.Now().After(deadline) {
					t.Fatalf("not started again: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		} else if !errors.Is(err, host.ErrBroken) {
			t.Fatalf("the third crash: %v, %+v; want broken", err, p.Status())
		}
	}
}
