// Package daemontest starts a real segld, in the test's process, on a real
// socket, on a fresh development setup in the test's temporary directory.
package daemontest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/store/postgres/pgtest"
	"github.com/segl/segl/tokens/password"
)

// Daemon is a running segld and the setup it runs on.
type Daemon struct {
	*daemon.Daemon
	Dev  *devenv.Env
	Addr string // https://127.0.0.1:port
	// OpsAddr is the plain-HTTP ops listener (http://127.0.0.1:port) when
	// the config sets ops-listen (any address: the test picks a port).
	OpsAddr string
	// AppAddr is the app listener's host:port (TLS, server certificate
	// only), as SEGL_APP_ADDR gives it.
	AppAddr string
	Logs    *Buffer
	Clock   *clock.Shifted // the daemon's one clock: move it to pass expiries
	opt     Options
	stop    func() error
	close   func()
}

// Stop shuts the daemon down as SIGTERM does and returns when Serve has
// returned: requests in flight are finished first.
func (d *Daemon) Stop() error { return d.stop() }

// Options change what Start runs.
type Options struct {
	// Factors are accepted besides the built-in ones.
	Factors []factors.Factor
	// Config changes the development config after it is read, at every
	// start.
	Config func(*config.Config)
	// SMS builds the development SMS adapter and configures it, as make
	// run has it: each SMS a line of Dev.Outbox().
	SMS bool
	// Adapters replace the config's plugins and SMS adapters: each is
	// built from its package, pinned, and tried in this order.
	Adapters []Adapter
	// PluginPolicy shortens the plugin host's timings.
	PluginPolicy host.Policy
	// Database is a PostgreSQL URL to run on instead of a SQLite file;
	// under Main with SEGL_TEST_STORE=postgres every daemon without one
	// gets a new database of the package's cluster.
	Database string
}

// StoreEnv names the store the tests of a package that runs Main use:
// "postgres", or empty for SQLite.
const StoreEnv = "SEGL_TEST_STORE"

// cluster is the PostgreSQL cluster Main started, or "".
var cluster string

// Main runs a package's tests (call it from TestMain). With
// SEGL_TEST_STORE=postgres it starts a throwaway PostgreSQL cluster for
// them, and every daemon they start runs on a database of its own there:
// the same tests, on the other store.
func Main(m *testing.M) int {
	switch os.Getenv(StoreEnv) {
	case "", "sqlite":
		return m.Run()
	case "postgres":
	default:
		fmt.Fprintf(os.Stderr, "daemontest: %s=%q: postgres or sqlite\n", StoreEnv, os.Getenv(StoreEnv))
		return 2
	}
	dir, err := os.MkdirTemp("", "segl-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	url, stop, err := pgtest.StartDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster = url
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// Adapter is a plugin a test builds and configures: an SMS adapter, or
// (Contract docverify) the document verifier.
type Adapter struct {
	Name     string
	Package  string            // its main package, e.g. github.com/segl/segl/cmd/segl-sms-outbox
	Config   map[string]string // plugins[].config
	Contract string            // "" for sms
}

// Verifier is the ICAO 9303 document verifier, trusting the CSCA files.
func Verifier(name string, cscas ...string) Adapter {
	return Adapter{Name: name, Package: "github.com/segl/segl/cmd/segl-docverify-icao9303", Contract: "docverify",
		Config: map[string]string{"csca": strings.Join(cscas, ",")}}
}

// Outbox is the outbox adapter writing to file.
func Outbox(name, file string) Adapter {
	return Adapter{Name: name, Package: "github.com/segl/segl/cmd/segl-sms-outbox", Config: map[string]string{"file": file}}
}

// build builds each adapter's package once into dir and returns the
// plugins' config.
func build(t testing.TB, dir string, adapters []Adapter) []config.Plugin {
	t.Helper()
	built := map[string]string{}
	var plugins []config.Plugin
	for _, a := range adapters {
		bin, ok := built[a.Package]
		if !ok {
			bin = filepath.Join(dir, filepath.Base(a.Package))
			if out, err := exec.Command("go", "build", "-o", bin, a.Package).CombinedOutput(); err != nil {
				t.Fatalf("build the plugin %s: %v\n%s", a.Package, err, out)
			}
			built[a.Package] = bin
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		contract := a.Contract
		if contract == "" {
			contract = "sms"
		}
		plugins = append(plugins, config.Plugin{Name: a.Name, Contract: contract, Command: bin, SHA256: fmt.Sprintf("%x", sha256.Sum256(b)), Config: a.Config})
	}
	return plugins
}

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
	return StartWith(t, Options{Factors: factors})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opt Options) *Daemon {
	t.Helper()
	// devenv sets SOFTHSM2_CONF for the process; t.Setenv restores it.
	t.Setenv("SOFTHSM2_CONF", "")
	t.Setenv("SEGL_HSM_PIN", "")
	t.Setenv("SEGL_HSM_PIN_FILE", "")
	outbox := ""
	bin := filepath.Join(t.TempDir(), "bin")
	os.Mkdir(bin, 0o755)
	if len(opt.Adapters) > 0 {
		plugins := build(t, bin, opt.Adapters)
		change := opt.Config
		opt.Config = func(c *config.Config) {
			c.Plugins, c.SMS.Adapters = plugins, nil
			for _, p := range plugins {
				switch p.Contract {
				case "sms":
					c.SMS.Adapters = append(c.SMS.Adapters, p.Name)
				case "docverify":
					c.Documents.Verifier = p.Name
				}
			}
			if change != nil {
				change(c)
			}
		}
	}
	if opt.SMS {
		outbox = filepath.Join(bin, "segl-sms-outbox")
		if out, err := exec.Command("go", "build", "-o", outbox, "github.com/segl/segl/cmd/segl-sms-outbox").CombinedOutput(); err != nil {
			t.Fatalf("build the SMS outbox plugin: %v\n%s", err, out)
		}
	}
	if opt.Database == "" && cluster != "" {
		opt.Database = pgtest.NewDatabase(t, cluster)
	}
	dev, err := devenv.Setup(t.TempDir(), devenv.Options{Listen: "127.0.0.1:0", Outbox: outbox, Database: opt.Database})
	if err != nil {
		t.Fatal(err)
	}
	return run(t, dev, opt, &clock.Shifted{}, &Buffer{})
}

// Restart stops d as SIGTERM does, closes it, and starts a new segld on
// the same setup (database, token, certificates, clock), reading the
// config file again, on a new port. Its log goes on in the same Logs.
func (d *Daemon) Restart(t testing.TB) *Daemon {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d.close()
	return run(t, d.Dev, d.opt, d.Clock, d.Logs)
}

func run(t testing.TB, dev *devenv.Env, opt Options, clk *clock.Shifted, logs *Buffer) *Daemon {
	t.Helper()
	cfg, err := config.Load(dev.Config)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Config != nil {
		opt.Config(cfg)
	}
	d, err := daemon.Open(cfg, slog.New(slog.NewJSONHandler(logs, nil)), daemon.Options{ExtraFactors: opt.Factors, PasswordParams: password.MinParams, Clock: clk, PluginPolicy: opt.PluginPolicy})
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
	var ops net.Listener
	opsAddr := ""
	if cfg.OpsListen != "" {
		if ops, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			d.Close()
			t.Fatal(err)
		}
		opsAddr = "http://" + ops.Addr().String()
	}
	// The app listener, always: phones' API (TLS, no client certificate).
	app, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, daemon.Listeners{API: ln, Ops: ops, App: app}) }()
	var stopOnce, closeOnce sync.Once
	var serveErr error
	stop := func() error {
		stopOnce.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	closeFn := func() { closeOnce.Do(d.Close) }
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		closeFn()
	})
	return &Daemon{Daemon: d, Dev: dev, Addr: "https://" + ln.Addr().String(), OpsAddr: opsAddr, AppAddr: app.Addr().String(), Logs: logs, Clock: clk, opt: opt, stop: stop, close: closeFn}
}
