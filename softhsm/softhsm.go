// Package softhsm makes hermetic SoftHSM2 tokens: each token has its own
// softhsm2.conf and token directory, is chosen by label, and has random
// PINs kept in files. `segld dev` keeps its development token this way and
// `segl vectors verify` its scratch token; tests use softhsmtest, which
// makes one per test.
//
// SoftHSM reads SOFTHSM2_CONF when the module is initialised, so it must be
// set to the token's Conf before anything in the process loads the module;
// Init refuses to go on if the module is initialised already.
//
// Nothing here imports package testing: it is linked into segld and segl.
// A production deployment uses a real HSM, not this package.
package softhsm

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
)

// Token is a SoftHSM token in a directory of its own.
type Token struct {
	Dir       string // holds softhsm2.conf, tokens/ and the PIN files
	Conf      string // the softhsm2.conf to put in SOFTHSM2_CONF
	Module    string // the SoftHSM PKCS#11 library
	Label     string
	PIN       hsm.PIN
	SOPIN     hsm.PIN
	PINFile   string // the user PIN, mode 0600
	SOPINFile string // the security officer's PIN, mode 0600
}

// Modules are the places Debian and a source build put SoftHSM.
var Modules = []string{
	hsm.DefaultModule,
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Module returns the SoftHSM library: SEGL_HSM_MODULE if set, else the
// first of Modules that exists.
func Module() (string, error) {
	if m := os.Getenv(hsm.EnvModule); m != "" {
		return m, nil
	}
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return "", errors.New("SoftHSM is not installed (no libsofthsm2.so): run `make deps`, or set " + hsm.EnvModule)
}

// Create writes dir/softhsm2.conf, dir/tokens/ and two PIN files with
// random PINs, and returns the token it describes. The token is not
// initialised yet: set SOFTHSM2_CONF to t.Conf, then call Init.
func Create(dir, label string) (*Token, error) {
	module, err := Module()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir, "#\n\r") {
		// SoftHSM's configuration parser ends a value at '#'.
		return nil, fmt.Errorf("softhsm: %q cannot be named in softhsm2.conf ('#' starts a comment there): choose another directory", dir)
	}
	t := &Token{
		Dir:       dir,
		Conf:      filepath.Join(dir, "softhsm2.conf"),
		Module:    module,
		Label:     label,
		PIN:       hsm.PIN(randomPIN()),
		SOPIN:     hsm.PIN(randomPIN()),
		PINFile:   filepath.Join(dir, "user.pin"),
		SOPINFile: filepath.Join(dir, "so.pin"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# SoftHSM configuration for one Segl token; made by package softhsm.
directories.tokendir = %s
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
`, filepath.Join(dir, "tokens"))
	for _, f := range []struct {
		path, body string
		mode       os.FileMode
	}{
		{t.Conf, conf, 0o644},
		{t.PINFile, string(t.PIN) + "\n", 0o600},
		{t.SOPINFile, string(t.SOPIN) + "\n", 0o600},
	} {
		if err := os.WriteFile(f.path, []byte(f.body), f.mode); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Init initialises the token through PKCS#11 in this process. SOFTHSM2_CONF
// must name t.Conf already.
func (t *Token) Init() error {
	if got := os.Getenv("SOFTHSM2_CONF"); got != t.Conf {
		return fmt.Errorf("SOFTHSM2_CONF is %q, want %q: set it before the module loads", got, t.Conf)
	}
	if err := moduleIdle(t.Module); err != nil {
		return err
	}
	return hsm.InitToken(t.Module, t.Label, t.SOPIN, t.PIN)
}

// moduleIdle fails when the module is already initialised in this process:
// SoftHSM would then not read the new SOFTHSM2_CONF, and the token would
// land in another test's directory.
func moduleIdle(module string) error {
	p := pkcs11.New(module)
	if p == nil {
		return fmt.Errorf("cannot load %s", module)
	}
	defer p.Destroy()
	err := p.Initialize()
	if err == nil {
		return p.Finalize()
	}
	if code, ok := hsm.Code(err); ok && code == pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
		return errors.New("the SoftHSM module is still initialised in this process: an earlier test left a Keystore open (close it in t.Cleanup)")
	}
	return err
}

// Config is the hsm.Config that opens the token.
func (t *Token) Config() hsm.Config {
	return hsm.Config{Module: t.Module, Token: t.Label, PIN: t.PIN}
}

// Env is the environment that points Segl's commands at the token, with
// the PINs in files, as a user would set it.
func (t *Token) Env() []string {
	return []string{
		"SOFTHSM2_CONF=" + t.Conf,
		hsm.EnvModule + "=" + t.Module,
		hsm.EnvToken + "=" + t.Label,
		hsm.EnvPINFile + "=" + t.PINFile,
		hsm.EnvSOPINFile + "=" + t.SOPINFile,
	}
}

// randomPIN returns 24 characters of base32 from crypto/rand.
func randomPIN() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base32.StdEncoding.EncodeToString(b)
}

// Existing returns the token that Create made in dir earlier, with the
// PINs from its files.
func Existing(dir, label string) (*Token, error) {
	module, err := Module()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	t := &Token{Dir: dir, Conf: filepath.Join(dir, "softhsm2.conf"), Module: module, Label: label,
		PINFile: filepath.Join(dir, "user.pin"), SOPINFile: filepath.Join(dir, "so.pin")}
	for _, f := range []struct {
		path string
		pin  *hsm.PIN
	}{{t.PINFile, &t.PIN}, {t.SOPINFile, &t.SOPIN}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("softhsm: token in %s: %w", dir, err)
		}
		*f.pin = hsm.PIN(strings.TrimRight(string(b), "\r\n"))
	}
	if _, err := os.Stat(t.Conf); err != nil {
		return nil, fmt.Errorf("softhsm: token in %s: %w", dir, err)
	}
	return t, nil
}
