package activation_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/activation"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
	"github.com/segl/segl/softhsm/softhsmtest"
)

type fixture struct {
	auth  *activation.Authority
	clock *clock.Shifted
	db    *sqlite.DB
	user  *store.User
	chain []*x509.Certificate
	sum   [32]byte
}

func setup(t *testing.T) *fixture {
	t.Helper()
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Generate("activation", hsm.HMACSHA256); err != nil {
		t.Fatal(err)
	}
	mac, err := ks.HMAC("activation")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "segl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := w.MarshalBinary()
	pub, _ := w.PublicKey()
	// A self-signed stand-in for the user's certificate: the CMS needs a
	// certificate for the key, not a chain, in this test.
	issuer, _ := ks.Generate("issuer", hsm.ECDSAP256)
	_ = issuer
	signer, err := ks.Signer("issuer")
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "u"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}, ca, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	clk := &clock.Shifted{}
	f := &fixture{auth: activation.New(ks, mac, db, clk), clock: clk, db: db, chain: []*x509.Certificate{cert, ca},
		user: &store.User{ID: "u", Name: "U", SigningKey: blob, Certificate: der}, sum: sha256.Sum256([]byte("document"))}
	now := time.Now()
	err = db.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateUser(f.user); err != nil {
			return err
		}
		return tx.CreateOrder(&store.Order{Ref: "order", RP: "bank", User: "u", Kind: store.KindSign, State: store.StatePending,
			EndUserIP: "192.0.2.1", AutoStartToken: "a", QRStartToken: "q", QRStartSecret: "s", Created: now, Expires: now.Add(time.Minute)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) issue(t *testing.T, lifetime time.Duration) *activation.Activation {
	t.Helper()
	var act *activation.Activation
	err := f.db.Update(context.Background(), func(tx store.Tx) (err error) {
		act, err = f.auth.Issue(tx, nil, "order", f.user, f.sum[:], lifetime)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return act
}

func TestActivationSignsOnce(t *testing.T) {
	f := setup(t)
	act := f.issue(t, time.Minute)
	if _, err := f.auth.SignCMS(context.Background(), act, f.user, f.chain, "test"); err != nil {
		t.Fatalf("a fresh activation: %v", err)
	}
	if _, err := f.auth.SignCMS(context.Background(), act, f.user, f.chain, "test"); !errors.Is(err, activation.ErrRefused) {
		t.Fatalf("a replayed activation: %v", err)
	}
}

func TestAlteredActivationRefused(t *testing.T) {
	f := setup(t)
	for name, alter := range map[string]func(a *activation.Activation){
		"digest": func(a *activation.Activation) { a.Digest = append([]byte{a.Digest[0] ^ 1}, a.Digest[1:]...) },
		"user":   func(a *activation.Activation) { a.User = "mallory" },
		"key":    func(a *activation.Activation) { a.KeyID = strings.Repeat("0", 64) },
		"expiry": func(a *activation.Activation) { a.Expires = a.Expires.Add(time.Hour) },
		"order":  func(a *activation.Activation) { a.Order = "other" },
		"id":     func(a *activation.Activation) { a.ID = strings.Repeat("a", 32) },
		"mac":    func(a *activation.Activation) { a.MAC[0] ^= 1 },
	} {
		act := f.issue(t, time.Minute)
		forged := *act
		forged.Digest = append([]byte(nil), act.Digest...)
		forged.MAC = append([]byte(nil), act.MAC...)
		alter(&forged)
		if _, err := f.auth.SignCMS(context.Background(), &forged, f.user, f.chain, "test"); !errors.Is(err, activation.ErrRefused) {
			t.Errorf("altered %s: %v", name, err)
		}
		// The genuine one was not spent by the forgery.
		if _, err := f.auth.SignCMS(context.Background(), act, f.user, f.chain, "test"); err != nil {
			t.Errorf("after a forged %s, the genuine activation: %v", name, err)
		}
	}
}

func TestActivationLifetime(t *testing.T) {
	f := setup(t)
	err := f.db.Update(context.Background(), func(tx store.Tx) error {
		_, err := f.auth.Issue(tx, nil, "order", f.user, f.sum[:], activation.MaxLifetime+time.Second)
		return err
	})
	if err == nil {
		t.Fatal("an activation longer than 5 minutes was issued")
	}
	act := f.issue(t, time.Minute)
	f.clock.Advance(time.Minute + time.Millisecond)
	if _, err := f.auth.SignCMS(context.Background(), act, f.user, f.chain, "test"); !errors.Is(err, activation.ErrRefused) {
		t.Fatalf("an expired activation: %v", err)
	}
}

// TestOnlyActivationUnwrapsUserKeys: no other package of the daemon calls
// WrappedSigner, the one way from a wrapped user key to a signature.
func TestOnlyActivationUnwrapsUserKeys(t *testing.T) {
	root := filepath.Join("..", "..")
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "hsm", "testdata", ".git", "bench":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if dir, _ := filepath.Abs(filepath.Dir(path)); dir == here {
			return nil // this package: the one allowed
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "WrappedSigner" {
				t.Errorf("%s calls WrappedSigner: only signer/activation may unwrap a user's signing key", fset.Position(sel.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
