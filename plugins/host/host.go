// Package host runs segld's plugins: each an issuer's adapter in a
// process of its own, reached over gRPC with mutual TLS (go-plugin's
// AutoMTLS).
//
// Before every launch, restarts included, the binary is checked: not a
// symlink, not writable by anyone but root or segld's own user (nor is its
// directory, since go-plugin's checksum check and the exec that follows it
// are two moments), and its SHA-256 the one the config pins. A plugin's
// stderr goes to segld's log under its name. A health check runs every
// few seconds; a plugin that exited or fails it is started again, after a
// backoff that doubles from 100 ms to 30 s, and one that crashed 3 times
// within a minute is left broken for a minute, during which its callers
// are told so at once and can turn to another adapter. Stop ends every
// process the host started.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Spec is one plugin as the config names it.
type Spec struct {
	Name     string
	Command  string // the binary's absolute path
	SHA256   string // hex, pinned
	Settings map[string]string
}

// Contract is what the host needs to know of a plugin contract.
type Contract struct {
	Name      string // "sms"
	Handshake plugin.HandshakeConfig
	// Plugins is the host side's plugin map, by contract version.
	Plugins map[int]plugin.PluginSet
	// Dispense is the name the contract's interface is dispensed under.
	Dispense string
	// Start is run on each new process's dispensed interface before it is
	// used, to configure it; it returns what the plugin says it is.
	Start func(ctx context.Context, raw any, settings map[string]string) (string, error)
}

// Errors a caller gets instead of a plugin: both mean the call was not
// made, so another adapter may be tried.
var (
	ErrBroken  = errors.New("plugin is broken")
	ErrDown    = errors.New("plugin is not running")
	ErrStopped = errors.New("the plugin host is stopped")
)

// Policy is how the host treats failing plugins.
type Policy struct {
	Health       time.Duration // between health checks; default 5 s
	BackoffMin   time.Duration // default 100 ms
	BackoffMax   time.Duration // default 30 s
	BreakerCount int           // crashes that open the breaker; default 3
	BreakerSpan  time.Duration // within this long; default 1 minute
	BreakerOpen  time.Duration // for this long; default 1 minute
	StartTimeout time.Duration // default 10 s
	// PingTimeout bounds a health check: a plugin that does not answer
	// within it is down (a stopped or wedged process answers never).
	PingTimeout time.Duration // default 1 s
	// Fresh is how long a plugin's last answer vouches for it: one not
	// heard from for longer is checked before it is handed out, so that a
	// call is not sent into a process that stopped since (and the caller
	// may turn to another adapter, knowing nothing was sent).
	Fresh time.Duration // default 1 s
}

func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Health, 5*time.Second)
	def(&p.BackoffMin, 100*time.Millisecond)
	def(&p.BackoffMax, 30*time.Second)
	def(&p.BreakerSpan, time.Minute)
	def(&p.BreakerOpen, time.Minute)
	def(&p.StartTimeout, 10*time.Second)
	def(&p.PingTimeout, time.Second)
	def(&p.Fresh, time.Second)
	if p.BreakerCount == 0 {
		p.BreakerCount = 3
	}
	return p
}

// Host runs plugins.
type Host struct {
	log     *slog.Logger
	policy  Policy
	mu      sync.Mutex
	plugins []*Plugin
	stopped bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New returns a host that logs to log.
func New(log *slog.Logger, policy Policy) *Host {
	return &Host{log: log, policy: policy.withDefaults(), stop: make(chan struct{})}
}

// Add starts a plugin of contract c and keeps it running; a first start
// that fails is an error (the config names a plugin that does not work).
func (h *Host) Add(ctx context.Context, c Contract, s Spec) (*Plugin, error) {
	p := &Plugin{host: h, contract: c, spec: s, log: h.log.With("plugin", s.Name)}
	if err := p.launch(ctx); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", s.Name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		p.kill()
		return nil, ErrStopped
	}
	h.plugins = append(h.plugins, p)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		p.watch(h.stop)
	}()
	return p, nil
}

// Plugins are the plugins added, in order.
func (h *Host) Plugins() []*Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Plugin(nil), h.plugins...)
}

// Stop ends every plugin process the host started, and the watchers.
func (h *Host) Stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	close(h.stop)
	ps := h.plugins
	h.mu.Unlock()
	h.wg.Wait()
	// Each plugin gets its grace at the same time, so a stop takes 2 s
	// at most however many plugins there are.
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.kill()
		}()
	}
	wg.Wait()
}

// State is a plugin's state, for segl plugins list.
type State string

const (
	Running    State = "running"
	Restarting State = "restarting"
	Broken     State = "broken"
	Stopped    State = "stopped"
)

// Status is what the host knows of a plugin.
type Status struct {
	Name        string
	Contract    string
	SHA256      string
	Description string
	State       State
	BrokenUntil time.Time
	PID         int
	Restarts    int
	LastError   string
}

// Plugin is one running plugin.
type Plugin struct {
	host     *Host
	contract Contract
	spec     Spec
	log      *slog.Logger

	mu          sync.Mutex
	client      *plugin.Client
	rpc         plugin.ClientProtocol
	raw         any
	description string
	pid         int
	state       State
	restarts    int
	crashes     []time.Time
	brokenUntil time.Time
	nextTry     time.Time
	backoff     time.Duration
	lastErr     string
	heard       time.Time // its last answer to a health check
}

// Status says how the plugin is.
func (p *Plugin) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{Name: p.spec.Name, Contract: p.contract.Name, SHA256: p.spec.SHA256, Description: p.description, State: p.state,
		BrokenUntil: p.brokenUntil, PID: p.pid, Restarts: p.restarts, LastError: p.lastErr}
}

// Name is the plugin's name in the config.
func (p *Plugin) Name() string { return p.spec.Name }

// Get returns the plugin's interface, starting the plugin again first if
// it is down and its backoff has passed. ErrBroken and ErrDown mean there
// is no plugin to call now.
//
// The check and the restart hold the plugin's lock, on purpose: callers
// that arrive meanwhile wait for that one check (at most PingTimeout) or
// start (at most StartTimeout) instead of each sending their own. A
// plugin handed out was alive within Fresh; one that dies after its last
// answer and before the call reaches it makes that call's outcome
// unknown, which is why an SMS is never sent again on another adapter
// after an unknown.
func (p *Plugin) Get(ctx context.Context) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.state == Broken && now.Before(p.brokenUntil) {
		return nil, p.downLocked()
	}
	if p.state == Running && p.client != nil && !p.client.Exited() {
		if now.Sub(p.heard) <= p.host.policy.Fresh {
			return p.raw, nil
		}
		if err := p.pingLocked(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.crashedLocked("its health check failed: " + err.Error())
			return nil, p.downLocked()
		}
		return p.raw, nil
	}
	if p.state == Stopped {
		return nil, ErrStopped
	}
	if p.state == Running {
		// Its process exited since the last look: a crash, counted as
		// the health check would count it, so that the breaker sees it.
		p.crashedLocked("its process exited")
		if p.state == Broken {
			return nil, p.downLocked()
		}
	}
	if now.Before(p.nextTry) {
		return nil, fmt.Errorf("%w: starting again in %s (%s)", ErrDown, time.Until(p.nextTry).Round(time.Millisecond), p.lastErr)
	}
	if err := p.restartLocked(ctx, "it had exited"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDown, err)
	}
	return p.raw, nil
}

// downLocked is the error for a plugin just found down: ErrBroken when
// that opened its breaker, ErrDown otherwise.
func (p *Plugin) downLocked() error {
	if p.state == Broken {
		return fmt.Errorf("%w until %s (%s)", ErrBroken, p.brokenUntil.Format(time.RFC3339), p.lastErr)
	}
	return fmt.Errorf("%w: %s", ErrDown, p.lastErr)
}

// Failed tells the host that a call failed without an answer: the plugin
// is checked at once, and started again when its process died under the
// call or it does not answer a health check. (One that answers is kept:
// the gateway behind it may be what is slow.)
func (p *Plugin) Failed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != Running || p.client == nil {
		return
	}
	if p.client.Exited() {
		p.crashedLocked("its process exited during a call")
	} else if err := p.pingLocked(context.Background()); err != nil {
		p.crashedLocked("a call got no answer, nor did a health check: " + err.Error())
	}
}

// pingLocked asks the plugin's gRPC health service, within PingTimeout
// and ctx. (go-plugin's own Ping waits without end.)
func (p *Plugin) pingLocked(ctx context.Context) error {
	c, ok := p.rpc.(*plugin.GRPCClient)
	if !ok {
		return fmt.Errorf("not a gRPC plugin")
	}
	ctx, cancel := context.WithTimeout(ctx, p.host.policy.PingTimeout)
	defer cancel()
	_, err := healthpb.NewHealthClient(c.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	p.heard = time.Now()
	return nil
}

// launch starts the process (p.mu held or not yet shared).
func (p *Plugin) launch(ctx context.Context) error {
	sum, err := CheckBinary(p.spec)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.spec.Command)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // nothing of segld's environment
	// Should segld die without cleaning up (SIGKILL, a crash), the kernel
	// ends the plugin: nothing outlives the daemon that started it. (The
	// signal follows the death of the thread that started the process;
	// segld locks no goroutine to a thread that could end before it.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  p.contract.Handshake,
		VersionedPlugins: p.contract.Plugins,
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     p.host.policy.StartTimeout,
		Logger:           hclog.NewNullLogger(),
		Stderr:           &lineLog{log: p.log},
	})
	rpc, err := client.Client()
	if err != nil {
		end(client, false)
		return versionError(err, p.contract)
	}
	raw, err := rpc.Dispense(p.contract.Dispense)
	if err != nil {
		end(client, false)
		return err
	}
	desc := ""
	if p.contract.Start != nil {
		sctx, cancel := context.WithTimeout(ctx, p.host.policy.StartTimeout)
		desc, err = p.contract.Start(sctx, raw, p.spec.Settings)
		cancel()
		if err != nil {
			end(client, false)
			return fmt.Errorf("configure: %w", err)
		}
	}
	p.client, p.rpc, p.raw, p.description, p.state, p.heard = client, rpc, raw, desc, Running, time.Now()
	if rc := client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	p.log.Info("plugin started", "contract", p.contract.Name, "pid", p.pid, "description", desc)
	return nil
}

// versionError names both versions when the plugin speaks another
// contract version.
func versionError(err error, c Contract) error {
	if strings.Contains(err.Error(), "incompatible API version") {
		var ours []string
		for v := range c.Plugins {
			ours = append(ours, fmt.Sprint(v))
		}
		return fmt.Errorf("the plugin speaks another version of the %s contract than segld (%s): %w", c.Name, strings.Join(ours, ", "), err)
	}
	return err
}

// crashedLocked records a crash: the breaker may open, the backoff grows.
func (p *Plugin) crashedLocked(why string) {
	now := time.Now()
	pol := p.host.policy
	p.lastErr = why
	p.crashes = append(p.crashes, now)
	for len(p.crashes) > 0 && now.Sub(p.crashes[0]) > pol.BreakerSpan {
		p.crashes = p.crashes[1:]
	}
	end(p.client, false)
	p.client, p.raw = nil, nil
	if len(p.crashes) >= pol.BreakerCount {
		p.state, p.brokenUntil = Broken, now.Add(pol.BreakerOpen)
		p.crashes = nil
		p.backoff = 0
		p.nextTry = p.brokenUntil
		p.log.Error("plugin broken: it crashed too often; callers turn to the next adapter", "until", p.brokenUntil, "why", why)
		return
	}
	p.state = Restarting
	switch {
	case p.backoff == 0:
		p.backoff = pol.BackoffMin
	default:
		p.backoff = min(2*p.backoff, pol.BackoffMax)
	}
	p.nextTry = now.Add(p.backoff)
	p.log.Warn("plugin down; starting it again", "why", why, "in", p.backoff)
}

// restartLocked starts the process again now.
func (p *Plugin) restartLocked(ctx context.Context, why string) error {
	end(p.client, false)
	p.client = nil
	p.restarts++
	if err := p.launch(ctx); err != nil {
		p.crashedLocked(fmt.Sprintf("%s; starting it again failed: %v", why, err))
		return err
	}
	p.backoff = 0
	return nil
}

// watch checks the plugin's health until stop, and starts it again when
// it is down and its backoff has passed.
func (p *Plugin) watch(stop <-chan struct{}) {
	tick := time.NewTicker(p.host.policy.Health)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		switch {
		case p.state == Running && (p.client == nil || p.client.Exited()):
			p.crashedLocked("its process exited")
		case p.state == Running:
			if err := p.pingLocked(context.Background()); err != nil {
				p.crashedLocked("its health check failed: " + err.Error())
			}
		}
		if (p.state == Restarting || p.state == Broken) && !time.Now().Before(p.nextTry) {
			if p.state == Broken {
				p.state = Restarting
			}
			_ = p.restartLocked(context.Background(), p.lastErr)
		}
		p.mu.Unlock()
	}
}

func (p *Plugin) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	end(p.client, true)
	p.client = nil
	p.state = Stopped
}

// end ends a plugin's process. go-plugin's Kill first asks the plugin
// to shut down and waits for the answer — which a stopped or wedged
// process never gives — so a plugin judged down is sent SIGKILL first,
// and a healthy one at segld's stop gets 2 s to go by itself.
func end(c *plugin.Client, graceful bool) {
	if c == nil {
		return
	}
	if graceful {
		done := make(chan struct{})
		go func() {
			c.Kill()
			close(done)
		}()
		select {
		case <-done:
			return
		case <-time.After(2 * time.Second):
		}
		defer func() { <-done }()
	}
	if rc := c.ReattachConfig(); rc != nil && rc.Pid > 0 && !c.Exited() {
		syscall.Kill(rc.Pid, syscall.SIGKILL)
	}
	if !graceful {
		c.Kill() // closes the connection and reaps the process, now at once
	}
}

// CheckBinary refuses a binary that could be swapped under segld, and one
// whose SHA-256 is not the pinned one; it returns the sum. The host runs it
// before every launch; segld check-config runs it too.
func CheckBinary(s Spec) ([]byte, error) {
	want, err := hex.DecodeString(s.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("sha256 %q is not 64 hex digits", s.SHA256)
	}
	if !filepath.IsAbs(s.Command) {
		return nil, fmt.Errorf("command %q is not an absolute path", s.Command)
	}
	st, err := os.Lstat(s.Command)
	if err != nil {
		return nil, err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symlink: name the binary itself", s.Command)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a file", s.Command)
	}
	for _, path := range []string{s.Command, filepath.Dir(s.Command)} {
		if err := notWritableByOthers(path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(s.Command)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	got := h.Sum(nil)
	if hex.EncodeToString(got) != strings.ToLower(s.SHA256) {
		return nil, fmt.Errorf("%s has SHA-256 %x, but the config pins %s: the binary changed, or the config is wrong", s.Command, got, strings.ToLower(s.SHA256))
	}
	return got, nil
}

// notWritableByOthers refuses a file or directory that a user other than
// root and segld's own can change.
func notWritableByOthers(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or others (mode %v): only root or segld's user may change a plugin", path, st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, neither root nor segld's user", path, sys.Uid)
	}
	return nil
}

// lineLog writes a plugin's stderr to segld's log, a line at a time.
type lineLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	part []byte
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := strings.IndexByte(string(l.part), '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(l.part[:i]), "\r"); line != "" {
			l.log.Info("plugin stderr", "line", line)
		}
		l.part = l.part[i+1:]
	}
	if len(l.part) > 64<<10 {
		l.log.Info("plugin stderr", "line", string(l.part))
		l.part = nil
	}
	return len(b), nil
}
