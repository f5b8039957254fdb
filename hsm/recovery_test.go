package hsm_test

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// gate parks every operation that starts while it is shut, so that a
// fault can be injected while the whole load sits between PKCS#11 calls:
// SoftHSM 2.6 frees a session that C_CloseAllSessions or C_Finalize closes
// while another thread is inside C_Sign with it, and crashes. A network HSM
// fails such calls instead; the parked calls here play that part.
type gate struct {
	mu     sync.Mutex
	shut   bool
	open   chan struct{}
	arrive chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{arrive: make(chan struct{}, 64)}
	hsm.SetInUse(t, g.hook)
	return g
}

func (g *gate) hook() {
	g.mu.Lock()
	if !g.shut {
		g.mu.Unlock()
		return
	}
	open := g.open
	g.mu.Unlock()
	g.arrive <- struct{}{}
	<-open
}

// hold shuts the gate and returns once n calls are parked at it.
func (g *gate) hold(t *testing.T, n int) {
	g.mu.Lock()
	g.shut, g.open = true, make(chan struct{})
	g.mu.Unlock()
	for i := range n {
		select {
		case <-g.arrive:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d calls reached the gate", i, n)
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	g.shut = false
	close(g.open)
	g.mu.Unlock()
}

// load is 8 goroutines using every kind of key the package has: token
// ECDSA (through crypto11), token HMAC and a wrapped key (through the
// package's own sessions and cache).
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	calls    atomic.Int64
	mu       sync.Mutex
	failures []error
}

func startLoad(t *testing.T, ks *hsm.Keystore, tok *softhsm.Token) *load {
	t.Helper()
	if _, err := ks.Generate("ec", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Generate("mac", hsm.HMACSHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	w, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ks.Signer("ec")
	mac, _ := ks.HMAC("mac")
	wrapped, _ := ks.WrappedSigner(w)
	ops := []func() error{
		func() error { return trySignAndVerify(ec, []byte("order"), crypto.SHA256) },
		func() error { return trySignAndVerify(wrapped, []byte("document"), crypto.SHA256) },
		func() error { _, err := mac.Sum(crypto.SHA256, []byte("code card")); return err },
	}
	l := &load{stop: make(chan struct{})}
	for g := range 8 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			op := ops[g%len(ops)]
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.calls.Add(1)
				if err := op(); err != nil {
					l.mu.Lock()
					l.failures = append(l.failures, err)
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// settle waits until the load has made n more calls.
func (l *load) settle(t *testing.T, n int64) {
	t.Helper()
	target := l.calls.Load() + n
	deadline := time.Now().Add(30 * time.Second)
	for l.calls.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("the load stalled at %d calls", l.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFailures waits for n failures and returns them.
func (l *load) waitFailures(t *testing.T, n int) []error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.failures)
		l.mu.Unlock()
		if got >= n {
			return l.takeFailures()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls failed, want the %d in flight: %v", got, n, l.takeFailures())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) takeFailures() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failures
	l.failures = nil
	return f
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// second opens another PKCS#11 handle on the module, as another library
// in the process would, for doing something to the token behind the
// Keystore's back.
func second(t *testing.T, tok *softhsm.Token, fn func(p *pkcs11.Ctx, slot uint)) {
	t.Helper()
	p := pkcs11.New(tok.Module)
	defer p.Destroy()
	if err := p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatal(err)
	}
	fn(p, slotOf(t, p, tok.Label))
}

func TestRecoveryUnderLoad(t *testing.T) {
	faults := map[string]func(t *testing.T, p *pkcs11.Ctx, slot uint){
		"sessions closed from outside": func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatal(err)
			}
		},
		"logged out from outside": func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Logout(s); err != nil {
				t.Fatal(err)
			}
			p.CloseSession(s)
		},
		"module finalized and initialized again": func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.Finalize(); err != nil {
				t.Fatal(err)
			}
			if err := p.Initialize(); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			tok, ks := softhsmtest.Open(t)
			g := newGate(t) // before the load, which reads the hook
			l := startLoad(t, ks, tok)
			defer l.end()
			l.settle(t, 200)
			if f := l.takeFailures(); len(f) > 0 {
				t.Fatalf("failures before the fault: %v", f)
			}
			before := ks.Stats().Reconnects

			g.hold(t, 8)
			second(t, tok, func(p *pkcs11.Ctx, slot uint) { fault(t, p, slot) })
			g.release()

			// Every call that was in flight fails, saying what happened
			// and what to do; the Keystore reconnects once.
			failed := l.waitFailures(t, 8)
			if len(failed) != 8 {
				t.Fatalf("%d calls failed, want the 8 in flight: %v", len(failed), failed)
			}
			for _, err := range failed {
				if !errors.Is(err, hsm.ErrSessionLost) || !strings.Contains(err.Error(), "retry") {
					t.Fatalf("in-flight failure %q is not ErrSessionLost telling to retry", err)
				}
			}
			if got := ks.Stats().Reconnects - before; got != 1 {
				t.Fatalf("%d reconnections, want 1", got)
			}
			// Every call after recovery succeeds, without a restart.
			l.settle(t, 500)
			if f := l.takeFailures(); len(f) > 0 {
				t.Fatalf("%d calls failed after recovery, first: %v", len(f), f[0])
			}
			if err := ks.Ping(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A connection that breaks again soon after a reconnection is not rebuilt
// before RecoveryInterval has passed; calls fail fast meanwhile.
func TestRecoveryRateLimit(t *testing.T) {
	tok := softhsmtest.New(t)
	cfg := tok.Config()
	cfg.RecoveryInterval = 700 * time.Millisecond
	ks, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ks.Generate("mac", hsm.HMACSHA256)
	mac, _ := ks.HMAC("mac")
	sum := func() error { _, err := mac.Sum(crypto.SHA256, []byte("x")); return err }
	closeAll := func() { second(t, tok, func(p *pkcs11.Ctx, slot uint) { p.CloseAllSessions(slot) }) }

	closeAll()
	wantErr(t, sum(), hsm.ErrSessionLost)
	if err := sum(); err != nil {
		t.Fatalf("after the first reconnection: %v", err)
	}
	start := time.Now()
	closeAll()
	for i := range 5 {
		err := sum()
		wantErr(t, err, hsm.ErrSessionLost)
		if i > 0 && !strings.Contains(err.Error(), "next attempt in") {
			t.Fatalf("error does not say when the next attempt is: %v", err)
		}
	}
	if got := ks.Stats().Reconnects; got != 1 {
		t.Fatalf("%d reconnections within the interval, want 1", got)
	}
	time.Sleep(time.Until(start.Add(cfg.RecoveryInterval)))
	wantErr(t, sum(), hsm.ErrSessionLost) // this one reconnects
	if err := sum(); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	if got := ks.Stats().Reconnects; got != 2 {
		t.Fatalf("%d reconnections, want 2", got)
	}
}

// When the PIN stops working while the Keystore is connected (an officer
// changed it), reconnecting fails once and is never tried again: retrying
// would use up the token's PIN attempts.
func TestRecoveryNeverRetriesRefusedPIN(t *testing.T) {
	tok := softhsmtest.New(t)
	var logins atomic.Int32
	hsm.SetLoginUser(t, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, pin string) error {
		logins.Add(1)
		return hsm.RealLoginUser(ctx, s, pin)
	})
	cfg := tok.Config()
	cfg.RecoveryInterval = 10 * time.Millisecond
	ks, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ks.Generate("mac", hsm.HMACSHA256)
	mac, _ := ks.HMAC("mac")
	second(t, tok, func(p *pkcs11.Ctx, slot uint) {
		s, _ := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err := p.SetPIN(s, string(tok.PIN), "a-new-PIN-1234"); err != nil {
			t.Fatal(err)
		}
		p.CloseAllSessions(slot)
	})
	_, err = mac.Sum(crypto.SHA256, []byte("x"))
	wantErr(t, err, hsm.ErrSessionLost)
	wantErr(t, err, hsm.ErrPINIncorrect)
	if got := logins.Load(); got != 2 {
		t.Fatalf("%d logins, want 2 (open, one reconnection)", got)
	}
	for range 5 {
		time.Sleep(2 * cfg.RecoveryInterval)
		_, err = mac.Sum(crypto.SHA256, []byte("x"))
		wantErr(t, err, hsm.ErrPINIncorrect)
	}
	if got := logins.Load(); got != 2 {
		t.Fatalf("%d logins: a refused PIN was tried again", got)
	}
}

func TestClosedKeystore(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	ks.Generate("ec", hsm.ECDSAP256)
	s, _ := ks.Signer("ec")
	ks.Close()
	_, err := s.Sign(nil, make([]byte, 32), crypto.SHA256)
	wantErr(t, err, hsm.ErrClosed)
	_, err = ks.List()
	wantErr(t, err, hsm.ErrClosed)
	if err := ks.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// ErrBusy: when every session is taken for longer than SessionWait, a call
// fails instead of queueing for ever.
func TestSessionWait(t *testing.T) {
	tok := softhsmtest.New(t)
	cfg := tok.Config()
	cfg.Sessions = 1
	cfg.SessionWait = 50 * time.Millisecond
	ks, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ks.Generate("mac", hsm.HMACSHA256)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	mac, _ := ks.HMAC("mac")
	// A wrapped-key generation holds the only session while it waits in
	// the hook that sees keys before they are wrapped.
	entered, release := make(chan struct{}), make(chan struct{})
	hsm.SetMadeToWrap(t, func(*pkcs11.Ctx, pkcs11.SessionHandle, pkcs11.ObjectHandle) {
		close(entered)
		<-release
	})
	done := make(chan error, 1)
	go func() {
		_, err := ks.GenerateWrapped("kek", hsm.HMACSHA256)
		done <- err
	}()
	<-entered
	_, err = mac.Sum(crypto.SHA256, []byte("x"))
	close(release)
	wantErr(t, err, hsm.ErrBusy)
	if !strings.Contains(fmt.Sprint(err), "session") {
		t.Fatalf("error does not mention sessions: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := mac.Sum(crypto.SHA256, []byte("x")); err != nil {
		t.Fatalf("after the session came free: %v", err)
	}
}
