package hsm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by ConfigFromEnv. PINs come only from here or
// from a file named here: never from a flag, never from a config file, never
// in a log.
const (
	EnvModule      = "SEGL_HSM_MODULE"
	EnvToken       = "SEGL_HSM_TOKEN"
	EnvPIN         = "SEGL_HSM_PIN"
	EnvPINFile     = "SEGL_HSM_PIN_FILE"
	EnvSOPIN       = "SEGL_HSM_SO_PIN"
	EnvSOPINFile   = "SEGL_HSM_SO_PIN_FILE"
	EnvSessions    = "SEGL_HSM_SESSIONS"
	EnvSessionWait = "SEGL_HSM_SESSION_WAIT"
	EnvUnwrapCache = "SEGL_HSM_UNWRAP_CACHE"
)

// Defaults: Debian's SoftHSM module and the dev token that `make run` makes.
const (
	DefaultModule           = "/usr/lib/softhsm/libsofthsm2.so"
	DefaultToken            = "segl-dev"
	DefaultSessions         = 8
	DefaultSessionWait      = 10 * time.Second
	DefaultRecoveryInterval = 2 * time.Second
	DefaultUnwrapCache      = 1024
	NoUnwrapCache           = -1
)

// PIN is a token PIN. It prints as [redacted] however it is formatted or
// logged, so a Config can be logged whole.
type PIN string

// Redacted is what a PIN looks like in any output.
const Redacted = "[redacted]"

func (p PIN) String() string               { return Redacted }
func (p PIN) GoString() string             { return Redacted }
func (p PIN) LogValue() slog.Value         { return slog.StringValue(Redacted) }
func (p PIN) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Config says which token to open and how to use it.
type Config struct {
	// Module is the path of the PKCS#11 shared library.
	Module string
	// Token is the label of the token; a token is never chosen by slot
	// number, which changes when tokens are added.
	Token string
	// PIN is the user PIN.
	PIN PIN
	// Sessions bounds the sessions each of the two pools (crypto11's and
	// the package's own) keeps open; crypto11 adds one long-lived session
	// that holds the login.
	Sessions int
	// SessionWait is how long a call waits for a free session before it
	// fails with ErrBusy. Zero means DefaultSessionWait; there is no
	// "wait forever".
	SessionWait time.Duration
	// RecoveryInterval is the least time between two reconnections.
	RecoveryInterval time.Duration
	// UnwrapCache bounds the unwrapped session objects kept for reuse.
	// Zero means DefaultUnwrapCache; NoUnwrapCache (any negative value)
	// destroys each one right after its use.
	UnwrapCache int
}

// ConfigFromEnv reads a Config from the SEGL_HSM_* variables, applying the
// defaults for those that are unset. Exactly one of SEGL_HSM_PIN and
// SEGL_HSM_PIN_FILE must be set.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Module:      envOr(EnvModule, DefaultModule),
		Token:       envOr(EnvToken, DefaultToken),
		Sessions:    DefaultSessions,
		SessionWait: DefaultSessionWait,
		UnwrapCache: DefaultUnwrapCache,
	}
	var errs []error
	pin, err := PINFromEnv(EnvPIN, EnvPINFile)
	if err != nil {
		errs = append(errs, err)
	}
	c.PIN = pin
	if v := os.Getenv(EnvSessions); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number of sessions, at least 1", EnvSessions, v))
		}
		c.Sessions = n
	}
	if v := os.Getenv(EnvSessionWait); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 10s", EnvSessionWait, v))
		}
		c.SessionWait = d
	}
	if v := os.Getenv(EnvUnwrapCache); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number of cached keys, 0 (no cache) or more", EnvUnwrapCache, v))
		}
		c.UnwrapCache = n
		if n == 0 {
			c.UnwrapCache = NoUnwrapCache
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ErrNoPIN: neither the PIN variable nor the PIN-file variable is set.
var ErrNoPIN = errors.New("no PIN configured")

// PINFromEnv reads a PIN from the variable named env or from the file named
// by the variable fileEnv; an empty variable counts as unset. Setting both
// is an error, so that nobody wonders which one won. A trailing newline in
// the file is not part of the PIN.
func PINFromEnv(env, fileEnv string) (PIN, error) {
	v, f := os.Getenv(env), os.Getenv(fileEnv)
	switch {
	case v != "" && f != "":
		return "", fmt.Errorf("both %s and %s are set: set only one", env, fileEnv)
	case f != "":
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fileEnv, err)
		}
		pin := strings.TrimRight(string(b), "\r\n")
		if pin == "" {
			return "", fmt.Errorf("%s names %s, which holds no PIN", fileEnv, f)
		}
		return PIN(pin), nil
	case v != "":
		return PIN(v), nil
	}
	return "", fmt.Errorf("%w: set %s to a file that holds it (or %s)", ErrNoPIN, fileEnv, env)
}

// validate checks what Open needs, naming the field at fault.
func (c *Config) validate() error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, errors.New("hsm: module is required (set "+EnvModule+")"))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("hsm: token is required (set "+EnvToken+")"))
	}
	if c.Sessions < 0 {
		errs = append(errs, fmt.Errorf("hsm: sessions must be at least 1, not %d", c.Sessions))
	}
	if c.SessionWait < 0 {
		errs = append(errs, fmt.Errorf("hsm: session wait must be positive, not %v", c.SessionWait))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.SessionWait == 0 {
		c.SessionWait = DefaultSessionWait
	}
	if c.UnwrapCache == 0 {
		c.UnwrapCache = DefaultUnwrapCache
	}
	if c.RecoveryInterval == 0 {
		c.RecoveryInterval = DefaultRecoveryInterval
	}
	return c
}
