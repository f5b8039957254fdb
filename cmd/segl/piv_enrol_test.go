package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gopiv "github.com/go-piv/piv-go/v2/piv"

	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/tokens/piv/pivtest"
)

// pivSetup is a segld trusting a test attestation root, the CLI pointed at
// it, a pcscd with a reader, and the arguments of segl piv enrol for the
// reader, a PIN file with the card's default PIN, and the test root.
func pivSetup(t *testing.T) (*daemontest.Daemon, *pivtest.CA, *pivtest.Reader, []string) {
	t.Helper()
	attCA := pivtest.NewCA(t)
	dir := t.TempDir()
	roots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(roots, attCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	d := daemontest.StartWith(t, daemontest.Options{Config: func(c *config.Config) { c.PIV.AttestationRoots = roots }})
	useDaemon(t, d)
	pin := filepath.Join(dir, "pin")
	if err := os.WriteFile(pin, append(pivtest.DefaultPIN, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSegl(t, "users", "create", "--id", "karen", "--name", "Karen Blixen")
	r := pivtest.Start(t)
	return d, attCA, r, []string{"--reader", r.Name, "--pin-file", pin, "--attestation-roots", roots}
}

func TestPIVEnrol(t *testing.T) {
	_, attCA, r, on := pivSetup(t)
	enrol := func(args ...string) []string { return append(append([]string{"piv", "enrol"}, on...), args...) }
	card := pivtest.NewCard(attCA.Device(t, 29170001, [3]byte{5, 7, 1}, 3))
	r.Insert(t, card)

	out, errOut, code := segl(t, enrol("--user", "karen", "--touch-policy", "cached")...)
	if code != 0 || !strings.Contains(out, "enrolled card 29170001 (firmware 5.7.1, USB-C Keychain) slot 9a for user karen: pin-policy once, touch-policy cached") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// The card no longer has the factory's management key: a random one,
	// under the PIN.
	if k := card.ManagementKey(); bytes.Equal(k, pivtest.DefaultManagementKey) || len(k) != 24 {
		t.Fatalf("the management key is %x", k)
	}
	// The certificate on the card is the issuer's, for the attested key,
	// its serial carrying the card's.
	obj := card.Object(0x5fc105)
	if obj == nil {
		t.Fatal("no certificate in slot 9a")
	}
	yk, err := gopiv.Open(r.Name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := yk.Certificate(gopiv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	att, err := yk.Attest(gopiv.SlotAuthentication)
	yk.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ca.CardSerial(cert) != 29170001 || cert.Subject.CommonName != "Karen Blixen" || !samePublicKey(cert.PublicKey, att.PublicKey) ||
		cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Fatalf("the slot's certificate: %v %x", cert.Subject, cert.SerialNumber)
	}
	if out := mustSegl(t, "piv", "list", "--user", "karen"); !strings.Contains(out, "card 29170001\tuser karen\tslot 9a\tfirmware 5.7.1\tpin-policy once\ttouch-policy cached") ||
		!strings.Contains(out, "\tenrolled") {
		t.Fatalf("list: %s", out)
	}
	// Enrolled twice: refused, naming the revocation, before the card
	// is touched: the enrolled key is still in the slot.
	if _, errOut, code := segl(t, enrol("--user", "karen")...); code == 0 ||
		!strings.Contains(errOut, "card 29170001 is enrolled already, to user karen: revoke it first") || !strings.Contains(errOut, "the card was not changed") {
		t.Fatalf("a second enrolment: exit %d %s", code, errOut)
	}
	if yk, err := gopiv.Open(r.Name); err != nil {
		t.Fatal(err)
	} else {
		now, err := yk.Attest(gopiv.SlotAuthentication)
		yk.Close()
		if err != nil || !samePublicKey(now.PublicKey, att.PublicKey) {
			t.Fatalf("a refused enrolment changed the slot's key: %v", err)
		}
	}
	out = mustSegl(t, "piv", "revoke", "--serial", "29170001")
	if !strings.Contains(out, "revoked ") || !strings.Contains(out, "by officer:") {
		t.Fatalf("revoke: %s", out)
	}
	if _, errOut, code := segl(t, "piv", "revoke", "--serial", "29170001"); code == 0 || !strings.Contains(errOut, "revoked already") {
		t.Fatalf("revoked twice: %d %s", code, errOut)
	}
	// Revoked, it may be enrolled again: the stored management key is
	// found under the PIN and used.
	mustSegl(t, enrol("--user", "karen", "--slot", "9c", "--pin-policy", "always")...)
	if out := mustSegl(t, "piv", "list"); strings.Count(out, "card 29170001") != 2 || !strings.Contains(out, "slot 9c") {
		t.Fatalf("list after enrolling again: %s", out)
	}
	cl, err := newAPIClient()
	if err != nil {
		t.Fatal(err)
	}
	var audit json.RawMessage
	if err := cl.do("GET", "/admin/v1/audit", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(audit), "admin.piv.enrolled") != 2 || !strings.Contains(string(audit), "admin.piv.revoked") {
		t.Fatalf("the audit:\n%s", audit)
	}
	if out := mustSegl(t, "audit", "verify"); !strings.Contains(out, "audit chain ok") {
		t.Fatal(out)
	}
}

func TestPIVEnrolRefusals(t *testing.T) {
	_, attCA, r, on := pivSetup(t)
	for _, c := range []struct {
		name     string
		firmware [3]byte
		args     []string
		want     string
	}{
		{"EUCLEAK firmware", [3]byte{5, 4, 3}, nil, "older than 5.7.0"},
		{"PIN policy never", [3]byte{5, 7, 1}, []string{"--pin-policy", "never"}, "signs without its PIN"},
		{"an unknown user", [3]byte{5, 7, 1}, []string{"--user", "nobody"}, "no user nobody"},
	} {
		t.Run(c.name, func(t *testing.T) {
			card := pivtest.NewCard(attCA.Device(t, 1000+uint32(c.firmware[1]), c.firmware, 1))
			in := r.Insert(t, card)
			defer in.Remove()
			args := append(append([]string{"piv", "enrol", "--user", "karen"}, on...), c.args...)
			if _, errOut, code := segl(t, args...); code == 0 || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d: %s; want %q", code, errOut, c.want)
			}
		})
	}
	// A card whose attestation root segld does not trust: the local
	// check passes with --attestation-roots, segld refuses.
	other := pivtest.NewCA(t)
	roots := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(roots, other.PEM(), 0o600)
	in := r.Insert(t, pivtest.NewCard(other.Device(t, 5555, [3]byte{5, 7, 1}, 1)))
	defer in.Remove()
	_, errOut, code := segl(t, append([]string{"piv", "enrol", "--user", "karen"}, on...)...)
	if code == 0 || !strings.Contains(errOut, "card 5555: the card's attestation certificate does not chain to a trusted root") {
		t.Fatalf("an untrusted card, checked here: %d %s", code, errOut)
	}
	_, errOut, code = segl(t, append([]string{"piv", "enrol", "--user", "karen"}, append(on[:4:4], "--attestation-roots", roots)...)...)
	if code == 0 || !strings.Contains(errOut, "400") || !strings.Contains(errOut, "does not chain to a trusted root") {
		t.Fatalf("an untrusted card, at segld: %d %s", code, errOut)
	}
}

// The front end's part of the piv factor, played by segl piv
// sign-challenge with the card in the reader: password and card complete
// a login; a wrong PIN signs nothing.
func TestPIVSignChallenge(t *testing.T) {
	d, attCA, r, on := pivSetup(t)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("hemmeligt1\n"), 0o600)
	mustSegl(t, "users", "create", "--id", "lars", "--name", "Lars Lund", "--password-file", pw)
	card := pivtest.NewCard(attCA.Device(t, 29170002, [3]byte{5, 7, 2}, 3))
	r.Insert(t, card)
	mustSegl(t, append([]string{"piv", "enrol", "--user", "lars"}, on...)...)

	rp := client(t, d, d.Dev.RPCert, d.Dev.RPKey)
	var o struct{ OrderRef string }
	if code := post(t, rp, d.Addr+"/rp/v1/auth", map[string]string{"userId": "lars", "endUserIp": "192.0.2.1"}, &o); code != 200 {
		t.Fatalf("start: %d", code)
	}
	var f struct {
		Accepted bool
		Status   string
	}
	post(t, rp, d.Addr+"/rp/v1/factor", map[string]string{"orderRef": o.OrderRef, "type": "password", "value": "hemmeligt1"}, &f)
	if !f.Accepted {
		t.Fatalf("password: %+v", f)
	}
	var c struct{ Challenge string }
	if code := post(t, rp, d.Addr+"/rp/v1/challenge", map[string]string{"orderRef": o.OrderRef, "type": "piv"}, &c); code != 200 {
		t.Fatalf("challenge: %d", code)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("999999\n"), 0o600)
	if _, errOut, code := segl(t, "piv", "sign-challenge", "--challenge", c.Challenge, "--reader", r.Name, "--pin-file", wrong); code == 0 ||
		!strings.Contains(errOut, "card 29170002") {
		t.Fatalf("a wrong PIN: exit %d %s", code, errOut)
	}
	if card.Signatures() != 0 {
		t.Fatal("the card signed with a wrong PIN")
	}
	value := strings.TrimSpace(mustSegl(t, "piv", "sign-challenge", "--challenge", c.Challenge, "--reader", r.Name, "--pin-file", on[3]))
	post(t, rp, d.Addr+"/rp/v1/factor", map[string]string{"orderRef": o.OrderRef, "type": "piv", "value": value}, &f)
	if !f.Accepted || f.Status != "complete" {
		t.Fatalf("the card's answer: %+v", f)
	}
	if _, errOut, code := segl(t, "piv", "sign-challenge", "--challenge", "abcd", "--reader", r.Name); code == 0 || !strings.Contains(errOut, "32 bytes") {
		t.Fatalf("a short challenge: %d %s", code, errOut)
	}
}

// An officer registers their own card: checked as a user's, listed as the
// officer's, with nothing written to it; it cannot be a user's card too.
func TestOfficerPIVEnrol(t *testing.T) {
	_, attCA, r, on := pivSetup(t)
	card := pivtest.NewCard(attCA.Device(t, 29170003, [3]byte{5, 7, 1}, 1))
	first := r.Insert(t, card)
	out := mustSegl(t, append([]string{"officers", "piv", "enrol", "--pin-policy", "always"}, on...)...)
	if !strings.Contains(out, "enrolled card 29170003 (firmware 5.7.1, USB-A Keychain) slot 9c for officer ") ||
		!strings.Contains(out, "pin-policy always") {
		t.Fatal(out)
	}
	if card.Object(0x5fc10a) != nil {
		t.Fatal("a certificate was written to an officer's card")
	}
	if out := mustSegl(t, "officers", "piv", "list"); !strings.Contains(out, "card 29170003\tofficer ") || !strings.Contains(out, "\tenrolled") {
		t.Fatalf("officers piv list: %s", out)
	}
	if out := mustSegl(t, "officers", "piv", "list", "--officer", "nobody"); out != "" {
		t.Fatalf("another officer's cards: %s", out)
	}
	if out := mustSegl(t, "piv", "list"); strings.Contains(out, "29170003") {
		t.Fatalf("an officer's card among the users': %s", out)
	}
	if _, errOut, code := segl(t, append([]string{"piv", "enrol", "--user", "karen"}, on...)...); code == 0 ||
		!strings.Contains(errOut, "card 29170003 is enrolled already, to officer ") {
		t.Fatalf("an officer's card enrolled for a user: %d %s", code, errOut)
	}
	// The policy holds for officers too.
	first.Remove()
	in := r.Insert(t, pivtest.NewCard(attCA.Device(t, 29170004, [3]byte{5, 6, 0}, 1)))
	defer in.Remove()
	if _, errOut, code := segl(t, append([]string{"officers", "piv", "enrol"}, on...)...); code == 0 || !strings.Contains(errOut, "EUCLEAK") {
		t.Fatalf("an officer's card with old firmware: %d %s", code, errOut)
	}
}
