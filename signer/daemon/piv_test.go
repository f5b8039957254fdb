package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/tokens/piv"
	"github.com/segl/segl/tokens/piv/pivtest"
)

// pivEnv is a segld trusting a test attestation root; its cards are keys
// in the test's memory, attested as a card attests the key it made, and
// enrolled through the admin API as segl piv enrol enrols them. The card
// itself, through pcscd, is cmd/segl's test.
type pivEnv struct {
	*env
	ca *pivtest.CA
}

func startPIV(t *testing.T) *pivEnv {
	t.Helper()
	ca := pivtest.NewCA(t)
	roots := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(roots, ca.PEM(), 0o600)
	d := daemontest.StartWith(t, daemontest.Options{Factors: []factors.Factor{testFactor{}},
		Config: func(c *config.Config) { c.PIV.AttestationRoots = roots }})
	return &pivEnv{env: &env{t: t, dev: d.Dev, d: d, addr: d.Addr, rp: clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey),
		off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}, ca: ca}
}

// enrol makes a card with this serial and PIN policy for user, and
// returns its key.
func (e *pivEnv) enrol(user string, serial uint32, pin byte) *ecdsa.PrivateKey {
	e.t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev := e.ca.Device(e.t, serial, [3]byte{5, 7, 1}, 3)
	slot, err := dev.Attest(&k.PublicKey, pivtest.Slot{Key: 0x9a, PIN: pin, Touch: pivtest.TouchNever})
	if err != nil {
		e.t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	body := map[string]any{"userId": user, "slot": "9a", "publicKey": spki, "attestation": dev.F9.Raw, "slotAttestation": slot}
	if code := e.call(e.off, "POST", "/admin/v1/piv", body, nil); code != 201 {
		e.t.Fatalf("enrol card %d: %d", serial, code)
	}
	return k
}

func (e *pivEnv) pivChallenge(ref string) []byte {
	e.t.Helper()
	var c struct{ Challenge string }
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "piv"}, &c); code != 200 {
		e.t.Fatalf("piv challenge: %d", code)
	}
	b, err := hex.DecodeString(c.Challenge)
	if err != nil || len(b) != 32 {
		e.t.Fatalf("challenge %q", c.Challenge)
	}
	return b
}

func sign(k *ecdsa.PrivateKey, challenge []byte) string {
	sig, err := ecdsa.SignASN1(rand.Reader, k, piv.ChallengeDigest(challenge))
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestPIVFactor(t *testing.T) {
	e := startPIV(t)
	e.createUser("pia", "hemmeligt1")
	e.createUser("per", "hemmeligt1")
	k := e.enrol("pia", 31000001, pivtest.PINOnce)
	other := e.enrol("per", 31000002, pivtest.PINOnce)
	login := func() string {
		var o struct{ OrderRef string }
		if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "pia", "endUserIp": "192.0.2.1"}, &o); code != 200 {
			t.Fatalf("start: %d", code)
		}
		return o.OrderRef
	}

	// Password and card: complete, the card as possession and knowledge.
	ref := login()
	if got := e.factor(ref, "password", "hemmeligt1"); !got.Accepted {
		t.Fatalf("password: %+v", got)
	}
	c := e.pivChallenge(ref)
	if got := e.factor(ref, "piv", sign(k, c)); !got.Accepted || got.Status != "complete" {
		t.Fatalf("the card: %+v", got)
	}
	got := e.collect(ref)
	if amr := fmt.Sprint(e.claims(got.CompletionData.Assertion)["amr"]); amr != "[pwd sc pin mfa]" {
		t.Fatalf("amr %s", amr)
	}
	if rec := lastAudit(t, e.env, audit.FactorAccepted, "piv"); rec["card"] != "31000001" || rec["pinPolicy"] != "once" {
		t.Fatalf("the card's audit record: %v", rec)
	}
	// The card alone completes an order: it is two elements.
	ref = login()
	if got := e.factor(ref, "piv", sign(k, e.pivChallenge(ref))); got.Status != "complete" {
		t.Fatalf("the card alone: %+v", got)
	}

	// Refused and counted: a signature over another challenge, another
	// user's card over this one. The same signature again meets a spent
	// challenge: nothing counted.
	ref = login()
	old := e.pivChallenge(ref)
	c = e.pivChallenge(ref) // replaces it
	if got := e.factor(ref, "piv", sign(k, old)); got.Accepted {
		t.Fatalf("a signature over a replaced challenge: %+v", got)
	}
	if n, _ := e.user("pia"); n != 1 {
		t.Fatalf("%d failures after a wrong signature", n)
	}
	c = e.pivChallenge(ref)
	if got := e.factor(ref, "piv", sign(other, c)); got.Accepted {
		t.Fatalf("another user's card: %+v", got)
	}
	if got := e.factor(ref, "piv", sign(k, c)); got.Accepted {
		t.Fatalf("the right card over a challenge a wrong answer spent: %+v", got)
	}
	if n, _ := e.user("pia"); n != 2 {
		t.Fatalf("%d failures, want 2", n)
	}
	if got := e.factor(ref, "piv", sign(k, e.pivChallenge(ref))); got.Status != "complete" {
		t.Fatalf("the right card: %+v", got)
	}

	// A revoked card fails; a user with no card gets no challenge.
	if code := e.call(e.off, "POST", "/admin/v1/piv/31000001/revoke", nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	ref = login()
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "piv"}, nil); code != 400 {
		t.Fatalf("a challenge for a user whose card is revoked: %d", code)
	}
	// Malformed values are refused as sent, and count nothing.
	e.enrol("pia", 31000003, pivtest.PINAlways)
	e.pivChallenge(ref)
	for _, v := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 200))} {
		if code := e.call(e.rp, "POST", "/rp/v1/factor", map[string]string{"orderRef": ref, "type": "piv", "value": v}, nil); code != 400 {
			t.Fatalf("value %q: %d", v, code)
		}
	}
	if got := e.factor(ref, "piv", sign(k, e.pivChallenge(ref))); got.Accepted {
		t.Fatalf("the revoked card's key: %+v", got)
	}
}

// The right signature sent 100 times at once: one acceptance, nothing
// counted, 50 rounds.
func TestDuplicatesPIV(t *testing.T) {
	e := startPIV(t)
	e.createUser("paal", "hemmeligt1")
	k := e.enrol("paal", 32000001, pivtest.PINOnce)
	raceFactor(t, e.env, "paal", "piv", false, func(_ int, ref string) string {
		return sign(k, e.pivChallenge(ref))
	}, nil)
}
