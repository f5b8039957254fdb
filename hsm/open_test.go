package hsm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// countLogins makes every C_Login countable, and optionally fail first.
func countLogins(t *testing.T, fail func(n int32) error) *atomic.Int32 {
	var n atomic.Int32
	hsm.SetLoginUser(t, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, pin string) error {
		i := n.Add(1)
		if fail != nil {
			if err := fail(i); err != nil {
				return err
			}
		}
		return hsm.RealLoginUser(ctx, s, pin)
	})
	return &n
}

func TestOpenWrongPIN(t *testing.T) {
	tok := softhsmtest.New(t)
	logins := countLogins(t, nil)
	cfg := tok.Config()
	cfg.PIN = "not-the-pin"
	_, err := hsm.Open(cfg)
	wantErr(t, err, hsm.ErrPINIncorrect)
	if !isCode(err, pkcs11.CKR_PIN_INCORRECT) || !strings.Contains(err.Error(), tok.Label) {
		t.Fatalf("error %q does not name the token and CKR_PIN_INCORRECT", err)
	}
	if strings.Contains(err.Error(), "not-the-pin") {
		t.Fatal("the error shows the PIN")
	}
	if logins.Load() != 1 {
		t.Fatalf("%d logins: a refused PIN was retried", logins.Load())
	}
	// The token counted the failure.
	info, err := hsm.Probe(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	if !info.PINCountLow() {
		t.Fatal("SoftHSM did not record the failed login")
	}
	// The right PIN still works, and clears the count.
	ks, err := hsm.Open(tok.Config())
	if err != nil {
		t.Fatal(err)
	}
	ks.Close()
	if info, _ := hsm.Probe(tok.Module, tok.Label); info.PINCountLow() {
		t.Fatal("the failed-login flag survived a good login")
	}
}

func TestOpenEmptyPINNeverReachesToken(t *testing.T) {
	tok := softhsmtest.New(t)
	logins := countLogins(t, nil)
	cfg := tok.Config()
	cfg.PIN = ""
	_, err := hsm.Open(cfg)
	wantErr(t, err, hsm.ErrPINEmpty)
	if logins.Load() != 0 {
		t.Fatal("an empty PIN reached C_Login")
	}
	if info, _ := hsm.Probe(tok.Module, tok.Label); info.PINCountLow() {
		t.Fatal("the token counted an empty PIN as a failed login")
	}
}

// SoftHSM 2.6 never locks a PIN (Token::loginUser only sets
// CKF_USER_PIN_COUNT_LOW), so CKR_PIN_LOCKED is injected at the seam.
func TestOpenLockedPIN(t *testing.T) {
	tok := softhsmtest.New(t)
	logins := countLogins(t, func(int32) error { return pkcs11.Error(pkcs11.CKR_PIN_LOCKED) })
	_, err := hsm.Open(tok.Config())
	wantErr(t, err, hsm.ErrPINLocked)
	if logins.Load() != 1 {
		t.Fatalf("%d logins on a locked PIN", logins.Load())
	}
}

// SoftHSM answers CKR_GENERAL_ERROR to a login now and then while another
// process writes the token; a few of those are retried, nothing else is.
func TestOpenRetriesGeneralError(t *testing.T) {
	tok := softhsmtest.New(t)
	logins := countLogins(t, func(n int32) error {
		if n <= 2 {
			return pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)
		}
		return nil
	})
	ks, err := hsm.Open(tok.Config())
	if err != nil {
		t.Fatal(err)
	}
	ks.Close()
	if logins.Load() != 3 {
		t.Fatalf("%d logins, want 3", logins.Load())
	}

	logins = countLogins(t, func(int32) error { return pkcs11.Error(pkcs11.CKR_GENERAL_ERROR) })
	_, err = hsm.Open(tok.Config())
	if !isCode(err, pkcs11.CKR_GENERAL_ERROR) {
		t.Fatalf("error = %v, want CKR_GENERAL_ERROR", err)
	}
	if logins.Load() != 4 {
		t.Fatalf("%d logins, want 4 (one and three retries)", logins.Load())
	}
}

func TestOpenUnknownTokenAndModule(t *testing.T) {
	tok := softhsmtest.New(t)
	cfg := tok.Config()
	cfg.Token = "no-such-token"
	_, err := hsm.Open(cfg)
	wantErr(t, err, hsm.ErrTokenNotFound)
	for _, want := range []string{"no-such-token", hsm.EnvToken, tok.Conf} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	cfg = tok.Config()
	cfg.Module = filepath.Join(t.TempDir(), "libnothing.so")
	_, err = hsm.Open(cfg)
	wantErr(t, err, hsm.ErrModule)
	if !strings.Contains(err.Error(), hsm.EnvModule) {
		t.Errorf("error %q does not say which variable to set", err)
	}
	notALibrary := filepath.Join(t.TempDir(), "lib.so")
	os.WriteFile(notALibrary, []byte("not ELF"), 0o644)
	cfg.Module = notALibrary
	_, err = hsm.Open(cfg)
	wantErr(t, err, hsm.ErrModule)
}

// Two tokens with one label: the Keystore refuses to pick one.
func TestOpenAmbiguousToken(t *testing.T) {
	tok := softhsmtest.New(t)
	second(t, tok, func(p *pkcs11.Ctx, _ uint) {
		defer p.Finalize()
		slots, _ := p.GetSlotList(true)
		for _, s := range slots {
			if ti, _ := p.GetTokenInfo(s); ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
				if err := p.InitToken(s, "so-pin-1234", tok.Label); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatal("no free slot")
	})
	_, err := hsm.Open(tok.Config())
	wantErr(t, err, hsm.ErrAmbiguousToken)
}

// crypto11 failures that are not PKCS#11 codes still come back as errors
// that say what failed.
func TestOpenCrypto11Failure(t *testing.T) {
	tok := softhsmtest.New(t)
	hsm.SetConfigureCrypto11(t, func(*crypto11.Config) (*crypto11.Context, error) {
		return nil, errors.New("failed to create module context: failed to open module")
	})
	_, err := hsm.Open(tok.Config())
	wantErr(t, err, hsm.ErrModule)
}

func TestProbe(t *testing.T) {
	tok := softhsmtest.New(t)
	info, err := hsm.Probe(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != tok.Label || info.Serial == "" || !strings.HasPrefix(info.Library, "SoftHSM") {
		t.Fatalf("probe: %+v", info)
	}
	for _, m := range hsm.Mechanisms {
		if m.ID == pkcs11.CKM_AES_CBC_PAD || m.ID == pkcs11.CKM_AES_ECB {
			continue // present too, but not what this test is about
		}
		if !info.Mechanisms[m.ID] {
			t.Errorf("SoftHSM lacks %s", m.Name)
		}
	}
	if info.WrapWith != "CKM_AES_KEY_WRAP_PAD" {
		t.Errorf("wraps with %s", info.WrapWith)
	}
	_, err = hsm.Probe(tok.Module, "other")
	wantErr(t, err, hsm.ErrTokenNotFound)
}

func TestInitToken(t *testing.T) {
	tok := softhsmtest.New(t)
	wantErr(t, hsm.InitToken(tok.Module, tok.Label, "so-pin", "user-pin"), hsm.ErrLabelExists)
	wantErr(t, hsm.InitToken(tok.Module, "x", "", "user-pin"), hsm.ErrPINEmpty)
	wantErr(t, hsm.InitToken(tok.Module, "x", "so-pin", ""), hsm.ErrPINEmpty)
	wantErr(t, hsm.InitToken(tok.Module, strings.Repeat("x", 33), "so-pin", "user-pin"), hsm.ErrBadInput)
	if err := hsm.InitToken(tok.Module, "second", "so-pin-5678", "user-pin-5678"); err != nil {
		t.Fatal(err)
	}
	ks, err := hsm.Open(hsm.Config{Module: tok.Module, Token: "second", PIN: "user-pin-5678"})
	if err != nil {
		t.Fatal(err)
	}
	ks.Close()
}

func TestConfigFromEnv(t *testing.T) {
	for _, v := range []string{hsm.EnvModule, hsm.EnvToken, hsm.EnvPIN, hsm.EnvPINFile, hsm.EnvSessions, hsm.EnvSessionWait, hsm.EnvUnwrapCache} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	_, err := hsm.ConfigFromEnv()
	wantErr(t, err, hsm.ErrNoPIN)
	if !strings.Contains(err.Error(), hsm.EnvPINFile) {
		t.Fatalf("error %q does not say how to give the PIN", err)
	}

	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte("s3cret-PIN\n"), 0o600)
	t.Setenv(hsm.EnvPINFile, pinFile)
	c, err := hsm.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.PIN != "s3cret-PIN" || c.Module != hsm.DefaultModule || c.Token != hsm.DefaultToken || c.Sessions != hsm.DefaultSessions || c.UnwrapCache != hsm.DefaultUnwrapCache {
		t.Fatalf("defaults: %+v", c)
	}

	// A PIN is never printed or logged, however the config is shown.
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "hsm", c, "pin", c.PIN)
	js, _ := json.Marshal(c)
	for _, shown := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c.PIN), logged.String(), string(js)} {
		if strings.Contains(shown, "s3cret") {
			t.Fatalf("the PIN shows in %q", shown)
		}
	}

	t.Setenv(hsm.EnvPIN, "also")
	_, err = hsm.ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), "set only one") {
		t.Fatalf("both PIN variables: %v", err)
	}
	os.Unsetenv(hsm.EnvPIN)

	t.Setenv(hsm.EnvSessions, "many")
	t.Setenv(hsm.EnvSessionWait, "-1s")
	t.Setenv(hsm.EnvUnwrapCache, "0")
	_, err = hsm.ConfigFromEnv()
	for _, name := range []string{hsm.EnvSessions, hsm.EnvSessionWait} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %v does not name %s", err, name)
		}
	}
	t.Setenv(hsm.EnvSessions, "4")
	t.Setenv(hsm.EnvSessionWait, "2s")
	c, err = hsm.ConfigFromEnv()
	if err != nil || c.Sessions != 4 || c.UnwrapCache != hsm.NoUnwrapCache {
		t.Fatalf("%+v %v", c, err)
	}

	t.Setenv(hsm.EnvPINFile, filepath.Join(t.TempDir(), "missing"))
	_, err = hsm.ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), hsm.EnvPINFile) {
		t.Fatalf("missing PIN file: %v", err)
	}
}
