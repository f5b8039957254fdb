// Package daemontest starts a real segld, in the test's process, on a real
// socket, on a fresh development setup in the test's temporary directory.
package daemontest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/devenv"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/tokens/password"
)

// Daemon is a running segld and the setup it runs on.
type Daemon struct {
	*daemon.Daemon
	Dev   *devenv.Env
	Addr  string // https://127.0.0.1:port
	Logs  *Buffer
	Clock *clock.Shifted // the daemon's one clock: move it to pass expiries
	stop  func() error
}

// Stop shuts the daemon down as SIGTERM does and returns when Serve has
// returned: requests in flight are finished first.
func (d *Daemon) Stop() error { return d.stop() }

// Buffer is a goroutine-safe log buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start runs segld until the test ends. Password hashing is made cheap;
// factors are accepted besides the built-in ones.
func Start(t testing.TB, factors ...factors.Factor) *Daemon {
	t.Helper()
	// devenv sets SOFTHSM2_CONF for the process; t.Setenv restores it.
	t.Setenv("SOFTHSM2_CONF", "")
	t.Setenv("SEGL_HSM_PIN", "")
	t.Setenv("SEGL_HSM_PIN_FILE", "")
	dev, err := devenv.Setup(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dev.Config)
	if err != nil {
		t.Fatal(err)
	}
	logs := &Buffer{}
	clk := &clock.Shifted{}
	d, err := daemon.Open(cfg, slog.New(slog.NewJSONHandler(logs, nil)), daemon.Options{ExtraFactors: factors, PasswordParams: password.MinParams, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := devenv.Bootstrap(d, cfg); err != nil {
		d.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		d.Close()
	})
	return &Daemon{Daemon: d, Dev: dev, Addr: "https://" + ln.Addr().String(), Logs: logs, Clock: clk, stop: stop}
}
