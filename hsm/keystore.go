package hsm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Seams over the C library, for injecting faults that SoftHSM cannot
// produce (a locked PIN: SoftHSM 2.6 never locks one). Tests replace them and
// restore them with t.Cleanup; production never does.
var (
	configureCrypto11 = crypto11.Configure
	loginUser         = func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, pin string) error {
		return ctx.Login(s, pkcs11.CKU_USER, pin)
	}
	// inUse, when set, runs at the start of every operation, after the
	// connection is taken and before any PKCS#11 call. Tests park calls
	// there to break the connection under them: SoftHSM 2.6 frees a
	// session that C_CloseAllSessions or C_Finalize closes while another
	// thread is inside C_Sign with it, so the fault must land between calls.
	inUse func()
	// madeToWrap, when set, sees each extractable session object between
	// its generation and its wrapping, so tests can check its attributes.
	madeToWrap func(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle)
)

// loginRetries bounds the retries of a C_Login that failed with
// CKR_GENERAL_ERROR: SoftHSM returns that once in a while when another
// process is writing the same token. A refused PIN is never retried.
const loginRetries = 3

// conn is one generation of the connection to the token: a crypto11
// context, a raw module handle on the same loaded library, and a session
// pool. Object handles found through a conn are valid only for its epoch.
type conn struct {
	epoch uint64
	c11   *crypto11.Context
	p11   *pkcs11.Ctx
	slot  uint
	token pkcs11.TokenInfo
	pool  *sessionPool
	mechs map[uint]bool
	wrap  uint // the wrap mechanism this module supports best, 0 if none
	// cbcUnwrap: the module unwraps with CKM_AES_CBC_PAD, so sealed PSKC
	// values can go straight into it (SoftHSM cannot).
	cbcUnwrap bool

	mu   sync.Mutex // guards keks
	keks map[string]pkcs11.ObjectHandle

	unwraps atomic.Uint64
}

func (c *conn) close() {
	if c.pool != nil {
		c.pool.close()
	}
	if c.p11 != nil {
		// Not Finalize: crypto11 owns the module's initialisation and
		// finalizes it when its last context closes, below.
		c.p11.Destroy()
	}
	if c.c11 != nil {
		_ = c.c11.Close()
	}
}

// withSession runs fn with a session of c's pool.
func (c *conn) withSession(fn func(s pkcs11.SessionHandle) error) error {
	return c.pool.with(fn)
}

// Keystore is a logged-in PKCS#11 token. It is safe for concurrent use.
type Keystore struct {
	cfg Config

	// mu is held shared by every operation for its whole length and
	// exclusively to reconnect or close, so a connection is never torn
	// down under a call. Code running under it must not call a method
	// that takes it again.
	mu          sync.RWMutex
	cur         *conn // nil while disconnected
	epoch       uint64
	closed      bool
	fatal       error // reconnecting is not tried again (a PIN was refused)
	lastAttempt time.Time

	cache *unwrapCache
	gen   sync.Mutex // one generation or import at a time, so a label check holds
}

// Open loads the module, finds the token by label and logs in.
func Open(cfg Config) (*Keystore, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.PIN == "" {
		return nil, &Error{Op: "login to token " + quote(cfg.Token), Kind: ErrPINEmpty}
	}
	ks := &Keystore{cfg: cfg, cache: newUnwrapCache(cfg.UnwrapCache)}
	c, err := ks.connect(1)
	if err != nil {
		return nil, err
	}
	ks.cur, ks.epoch = c, 1
	return ks, nil
}

// Config returns the configuration the Keystore was opened with.
func (ks *Keystore) Config() Config { return ks.cfg }

// Close logs out and releases the module. Calls in flight finish first.
func (ks *Keystore) Close() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed {
		return nil
	}
	ks.closed = true
	if ks.cur != nil {
		ks.cache.reset()
		ks.cur.close()
		ks.cur = nil
	}
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// connect builds a new connection: crypto11 first, because it insists on
// initialising the module itself; then a raw handle on the same library
// (C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED, which is fine);
// then the login, done here rather than by crypto11 so that the PIN checks
// and retries are ours. Login state belongs to the application, so crypto11's
// sessions are logged in too.
func (ks *Keystore) connect(epoch uint64) (_ *conn, err error) {
	cfg := ks.cfg
	op := "open token " + quote(cfg.Token)
	if _, err := os.Stat(cfg.Module); err != nil {
		return nil, &Error{Op: op, Kind: ErrModule, Err: fmt.Errorf("%w (set %s to the PKCS#11 library's path)", err, EnvModule)}
	}
	c := &conn{epoch: epoch, keks: map[string]pkcs11.ObjectHandle{}}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	c.c11, err = ks.configure()
	if err != nil {
		return nil, ks.configureErr(op, err)
	}
	c.p11 = pkcs11.New(cfg.Module)
	if c.p11 == nil {
		return nil, &Error{Op: op, Kind: ErrModule, Err: fmt.Errorf("%s is not a PKCS#11 library", cfg.Module)}
	}
	if err := c.p11.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, &Error{Op: op, Kind: ErrModule, Err: err}
	}
	c.slot, c.token, err = findToken(c.p11, cfg.Module, cfg.Token)
	if err != nil {
		return nil, &Error{Op: op, Kind: errKind(err), Err: err}
	}
	c.pool = newSessionPool(c.p11, c.slot, cfg.Sessions, cfg.SessionWait)
	if err := login(c, cfg.PIN); err != nil {
		return nil, err
	}
	c.mechs, err = mechanisms(c.p11, c.slot)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	switch {
	case c.mechs[pkcs11.CKM_AES_KEY_WRAP_PAD]:
		c.wrap = pkcs11.CKM_AES_KEY_WRAP_PAD
	case c.mechs[pkcs11.CKM_AES_CBC_PAD]:
		c.wrap = pkcs11.CKM_AES_CBC_PAD
	}
	c.cbcUnwrap = canUnwrapCBC(c.p11, c.slot)
	return c, nil
}

// configure makes the crypto11 context. When the module was finalized under
// a crypto11 context that still exists elsewhere in the process, crypto11
// reuses its stale handle and every call says CKR_CRYPTOKI_NOT_INITIALIZED;
// initialising the library again through a raw handle mends that.
func (ks *Keystore) configure() (*crypto11.Context, error) {
	cfg := &crypto11.Config{
		Path:              ks.cfg.Module,
		TokenLabel:        ks.cfg.Token,
		MaxSessions:       ks.cfg.Sessions + 1, // crypto11 keeps one for itself
		PoolWaitTimeout:   ks.cfg.SessionWait,
		LoginNotSupported: true, // we log in ourselves, see connect
	}
	c11, err := configureCrypto11(cfg)
	if err != nil && isCode(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		if p := pkcs11.New(ks.cfg.Module); p != nil {
			_ = p.Initialize()
			p.Destroy()
		}
		c11, err = configureCrypto11(cfg)
	}
	return c11, err
}

func (ks *Keystore) configureErr(op string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "could not find PKCS#11 token"):
		return &Error{Op: op, Kind: ErrTokenNotFound, Err: tokenNotFound(ks.cfg.Module, ks.cfg.Token)}
	case strings.Contains(msg, "failed to open module"), strings.Contains(msg, "failed to initialize module"):
		return &Error{Op: op, Kind: ErrModule, Err: err}
	}
	return wrapErr(op, err)
}

// tokenNotFound says where to look when no token has the label.
func tokenNotFound(module, label string) error {
	hint := "list the module's tokens with `pkcs11-tool --module " + module + " --list-token-slots`"
	if conf := os.Getenv("SOFTHSM2_CONF"); conf != "" {
		hint += "; SoftHSM reads its tokens from the directory named in " + conf
	}
	return fmt.Errorf("%w: no initialized token is labelled %q (set %s; %s)", ErrTokenNotFound, label, EnvToken, hint)
}

// findToken returns the one slot whose token has the label.
func findToken(p *pkcs11.Ctx, module, label string) (uint, pkcs11.TokenInfo, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, err
	}
	var found []uint
	var info pkcs11.TokenInfo
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue // a slot whose token went away between the two calls
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && ti.Label == label {
			found = append(found, s)
			info = ti
		}
	}
	switch len(found) {
	case 0:
		return 0, info, tokenNotFound(module, label)
	case 1:
		return found[0], info, nil
	}
	return 0, info, fmt.Errorf("%w: %d tokens are labelled %q (slots %v); relabel one", ErrAmbiguousToken, len(found), label, found)
}

// login logs the user in. It checks first what it can without spending an
// attempt: an empty PIN, a PIN the token reports locked.
func login(c *conn, pin PIN) error {
	op := "login to token " + quote(c.token.Label)
	if pin == "" {
		return &Error{Op: op, Kind: ErrPINEmpty}
	}
	if c.token.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return &Error{Op: op, Kind: ErrPINLocked, Err: errors.New("the token reports CKF_USER_PIN_LOCKED; the security officer must unlock it")}
	}
	return c.withSession(func(s pkcs11.SessionHandle) error {
		var err error
		for attempt := 0; ; attempt++ {
			err = loginUser(c.p11, s, string(pin))
			if err == nil || isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
				return nil
			}
			if !isCode(err, pkcs11.CKR_GENERAL_ERROR) || attempt == loginRetries {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		}
		return wrapErr(op, err)
	})
}

func mechanisms(p *pkcs11.Ctx, slot uint) (map[uint]bool, error) {
	list, err := p.GetMechanismList(slot)
	if err != nil {
		return nil, err
	}
	m := make(map[uint]bool, len(list))
	for _, mech := range list {
		m[mech.Mechanism] = true
	}
	return m, nil
}

// canUnwrapCBC reports whether the module lists CKF_UNWRAP for
// CKM_AES_CBC_PAD.
func canUnwrapCBC(p *pkcs11.Ctx, slot uint) bool {
	mi, err := p.GetMechanismInfo(slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, nil)})
	return err == nil && mi.Flags&pkcs11.CKF_UNWRAP != 0
}

func isCode(err error, code uint) bool {
	c, ok := Code(err)
	return ok && c == code
}

// errKind returns the sentinel inside err, for errors made with %w.
func errKind(err error) error {
	for _, k := range []error{ErrTokenNotFound, ErrAmbiguousToken, ErrKeyNotFound, ErrDataNotFound, ErrAmbiguousKey, ErrLabelExists} {
		if errors.Is(err, k) {
			return k
		}
	}
	if code, ok := Code(err); ok {
		return kindOf(code)
	}
	return nil
}

// use runs fn on the current connection, reconnecting first if there is
// none. When fn fails because the session or login is gone, the connection
// is rebuilt before use returns, and the error says ErrSessionLost: the call
// itself is not retried, because the caller knows whether it may be.
func (ks *Keystore) use(op string, fn func(c *conn) error) error {
	c, err := ks.acquire()
	if err != nil {
		return wrapErr(op, err)
	}
	err = func() error {
		// Deferred, so that a panic in fn (or in a seam) cannot leave the
		// keystore read-locked, which would hang every reconnect and Close.
		defer ks.mu.RUnlock()
		if inUse != nil {
			inUse()
		}
		return fn(c)
	}()
	if err == nil {
		return nil
	}
	err = wrapErr(op, err)
	if errors.Is(err, ErrKeyNotFound) && !c.loggedIn() {
		// Sessions closed from outside log the application out, and a
		// private key is then not found rather than refused: the login is
		// what is gone, not the key.
		err = &Error{Op: op, Kind: ErrSessionLost, Err: fmt.Errorf("the login is gone: %v", err)}
	}
	if errors.Is(err, ErrSessionLost) {
		if rerr := ks.reconnect(c.epoch); rerr != nil {
			var he *Error
			errors.As(err, &he)
			return &Error{Op: op, Kind: ErrSessionLost, Err: errors.Join(he.Err, fmt.Errorf("reconnecting failed: %w", rerr))}
		}
	}
	return err
}

// acquire returns the current connection with ks.mu held shared; the caller
// releases it.
func (ks *Keystore) acquire() (*conn, error) {
	for range 2 {
		ks.mu.RLock()
		if ks.cur != nil {
			return ks.cur, nil
		}
		closed := ks.closed
		ks.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		if err := ks.reconnect(0); err != nil {
			return nil, err
		}
	}
	return nil, ErrUnavailable
}

// reconnect replaces the connection of the given epoch (any, when there is
// none) with a new one. It does nothing when a newer connection already
// exists, and tries at most once per RecoveryInterval.
func (ks *Keystore) reconnect(seen uint64) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.cur != nil && ks.cur.epoch != seen {
		return nil
	}
	return ks.reconnectLocked("the connection was lost", slog.LevelWarn)
}

// reconnectLocked closes the current connection, if any, and makes a new
// one; why is logged at level: a warning when something broke, less when
// the reconnection was planned.
func (ks *Keystore) reconnectLocked(why string, level slog.Level) error {
	if ks.closed {
		return ErrClosed
	}
	if ks.fatal != nil {
		return ks.fatal
	}
	if wait := time.Until(ks.lastAttempt.Add(ks.cfg.RecoveryInterval)); wait > 0 && ks.cur == nil {
		return &Error{Op: "reconnect", Kind: ErrUnavailable, Err: fmt.Errorf("last attempt failed; next one in %v", wait.Round(time.Millisecond))}
	} else if wait > 0 {
		// A connection that breaks again within the interval is left
		// broken until the interval has passed: calls fail fast with
		// ErrSessionLost instead of hammering the HSM.
		return &Error{Op: "reconnect", Kind: ErrUnavailable, Err: fmt.Errorf("reconnected %v ago; next attempt in %v", time.Since(ks.lastAttempt).Round(time.Millisecond), wait.Round(time.Millisecond))}
	}
	ks.lastAttempt = time.Now()
	if ks.cur != nil {
		ks.cache.reset()
		ks.cur.close()
		ks.cur = nil
	}
	c, err := ks.connect(ks.epoch + 1)
	if err != nil {
		if errors.Is(err, ErrPINIncorrect) || errors.Is(err, ErrPINLocked) {
			// Retrying would spend the token's PIN attempts.
			ks.fatal = err
		}
		slog.Error("hsm: reconnect failed", "token", ks.cfg.Token, "err", err)
		return err
	}
	ks.epoch++
	ks.cur = c
	slog.Log(context.Background(), level, "hsm: reconnected", "token", ks.cfg.Token, "epoch", ks.epoch, "why", why)
	return nil
}

// loggedIn reports whether c's sessions still see the user's objects.
func (c *conn) loggedIn() bool {
	return c.withSession(func(s pkcs11.SessionHandle) error {
		info, err := c.p11.GetSessionInfo(s)
		if err != nil {
			return err
		}
		if info.State != pkcs11.CKS_RW_USER_FUNCTIONS && info.State != pkcs11.CKS_RO_USER_FUNCTIONS {
			return pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
		}
		return nil
	}) == nil
}

// Ping checks that the token is reachable and the user logged in, for
// readiness probes. A lost login makes it fail and reconnect.
func (ks *Keystore) Ping() error {
	return ks.use("ping", func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			info, err := c.p11.GetSessionInfo(s)
			if err != nil {
				return err
			}
			if info.State != pkcs11.CKS_RW_USER_FUNCTIONS {
				return pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
			}
			return nil
		})
	})
}

// exclusive runs fn with no other call in flight, on the current
// connection, and reconnects afterwards: for the ceremonies that change the
// login state of the whole application (GenerateKEK).
func (ks *Keystore) exclusive(op string, fn func(c *conn) error) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed {
		return wrapErr(op, ErrClosed)
	}
	if ks.cur == nil {
		if err := ks.reconnectLocked("none was open", slog.LevelInfo); err != nil {
			return wrapErr(op, err)
		}
	}
	err := wrapErr(op, fn(ks.cur))
	// Whatever fn did to the login, start again from a clean connection.
	// A planned reconnection does not count against RecoveryInterval,
	// which is there to pace recovery from failures.
	ks.lastAttempt = time.Time{}
	rerr := ks.reconnectLocked(op+" changed the login", slog.LevelDebug)
	ks.lastAttempt = time.Time{}
	if rerr != nil {
		return errors.Join(err, wrapErr("reconnect after "+op, rerr))
	}
	return err
}
