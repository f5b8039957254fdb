package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/softhsm/softhsmtest"
)

var (
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	root = ca.Subject{CommonName: "Segl Test Root CA", Organization: "Segl", Country: "DK"}
	sub  = ca.Subject{CommonName: "Segl Test Issuer CA", Organization: "Segl", Country: "DK"}
)

// counting is an HSM key that counts its signatures, so a test can tell
// that a refused request never reached the HSM.
type counting struct {
	crypto.Signer
	n atomic.Int32
}

func (c *counting) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, digest, opts)
}

func generate(t *testing.T, ks *hsm.Keystore, label string, typ hsm.KeyType) *hsm.Signer {
	t.Helper()
	if _, err := ks.Generate(label, typ); err != nil {
		t.Fatalf("generate %s: %v", label, err)
	}
	s, err := ks.Signer(label)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChain(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	rootKey := generate(t, ks, "root", hsm.ECDSAP384)
	subKey := generate(t, ks, "issuer", hsm.ECDSAP256)
	userKey := generate(t, ks, "user", hsm.ECDSAP256)

	rootCert, err := ca.NewRoot(rootKey, root, t0, t0.AddDate(20, 0, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	subCert, err := ca.NewIntermediate(subKey.Public(), sub, t0, t0.AddDate(10, 0, 0), 0, rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	iss := &ca.Issuer{Cert: subCert, Key: subKey, Chain: []*x509.Certificate{subCert}}
	userCert, err := iss.UserCert(userKey.Public(), "u-4711", "Karen Blixen", t0.AddDate(0, 1, 0), t0.AddDate(2, 1, 0))
	if err != nil {
		t.Fatal(err)
	}

	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(rootCert)
	inter.AddCert(subCert)
	chains, err := userCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: t0.AddDate(1, 0, 0),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("verify root → intermediate → user: %v", err)
	}
	if len(chains) != 1 || len(chains[0]) != 3 || !chains[0][1].Equal(subCert) || !chains[0][2].Equal(rootCert) {
		t.Fatalf("chain %v", chains)
	}
	// S/MIME is what `openssl cms -verify` checks by default: with no
	// extended key usage the certificate is good for it.
	if _, err := userCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: t0.AddDate(1, 0, 0),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Fatalf("verify for S/MIME: %v", err)
	}

	for _, c := range []struct {
		name       string
		cert       *x509.Certificate
		issuer     *x509.Certificate
		ca         bool
		pathLen    int
		usage      x509.KeyUsage
		key        crypto.PublicKey
		sigAlg     x509.SignatureAlgorithm
		notAfterYr int
	}{
		{"root", rootCert, rootCert, true, 1, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, rootKey.Public(), x509.ECDSAWithSHA384, 2046},
		{"intermediate", subCert, rootCert, true, 0, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, subKey.Public(), x509.ECDSAWithSHA384, 2036},
		{"user", userCert, subCert, false, -1, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, userKey.Public(), x509.ECDSAWithSHA256, 2028},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := c.cert
			if !x.BasicConstraintsValid || x.IsCA != c.ca {
				t.Errorf("basic constraints: valid %t, CA %t", x.BasicConstraintsValid, x.IsCA)
			}
			if c.ca && (x.MaxPathLen != c.pathLen || x.MaxPathLenZero != (c.pathLen == 0)) {
				t.Errorf("max path length %d (zero %t), want %d", x.MaxPathLen, x.MaxPathLenZero, c.pathLen)
			}
			if !c.ca && x.MaxPathLen != -1 {
				t.Errorf("a leaf with max path length %d", x.MaxPathLen)
			}
			if x.KeyUsage != c.usage {
				t.Errorf("key usage %#x, want %#x", x.KeyUsage, c.usage)
			}
			if len(x.ExtKeyUsage)+len(x.UnknownExtKeyUsage) != 0 {
				t.Errorf("extended key usage %v %v", x.ExtKeyUsage, x.UnknownExtKeyUsage)
			}
			if len(x.SubjectKeyId) != 20 {
				t.Errorf("subject key identifier %x", x.SubjectKeyId)
			}
			if !bytes.Equal(x.AuthorityKeyId, c.issuer.SubjectKeyId) {
				t.Errorf("authority key identifier %x, want the issuer's %x", x.AuthorityKeyId, c.issuer.SubjectKeyId)
			}
			if !bytes.Equal(x.RawIssuer, c.issuer.RawSubject) {
				t.Errorf("issuer %s, want %s", x.Issuer, c.issuer.Subject)
			}
			if x.SerialNumber.Sign() <= 0 || x.SerialNumber.BitLen() > 128 || x.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x", x.SerialNumber)
			}
			if !x.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(c.key) {
				t.Error("certifies another key")
			}
			if x.SignatureAlgorithm != c.sigAlg {
				t.Errorf("signature algorithm %s, want %s", x.SignatureAlgorithm, c.sigAlg)
			}
			if x.NotAfter.Year() != c.notAfterYr || x.NotAfter.After(c.issuer.NotAfter) {
				t.Errorf("not after %s", x.NotAfter)
			}
			if err := x.CheckSignatureFrom(c.issuer); err != nil {
				t.Errorf("signature: %v", err)
			}
		})
	}
	if got := userCert.Subject; got.CommonName != "Karen Blixen" || got.SerialNumber != "u-4711" ||
		strings.Join(got.Organization, ",") != "Segl" || strings.Join(got.Country, ",") != "DK" {
		t.Errorf("user subject %s", got)
	}
	if rootCert.SerialNumber.Cmp(subCert.SerialNumber) == 0 || subCert.SerialNumber.Cmp(userCert.SerialNumber) == 0 {
		t.Error("serial numbers repeat")
	}
}

// TestKeyTypes makes a root with each kind of CA key the HSM holds and has
// it certify a user key.
func TestKeyTypes(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	userKey := generate(t, ks, "user", hsm.ECDSAP256)
	for _, c := range []struct {
		typ    hsm.KeyType
		sigAlg x509.SignatureAlgorithm
	}{
		{hsm.ECDSAP256, x509.ECDSAWithSHA256},
		{hsm.RSA2048, x509.SHA256WithRSA},
		{hsm.RSA3072, x509.SHA256WithRSA},
		{hsm.Ed25519, x509.PureEd25519},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			key := generate(t, ks, "root-"+string(c.typ), c.typ)
			cert, err := ca.NewRoot(key, root, t0, t0.AddDate(20, 0, 0), 0)
			if err != nil {
				t.Fatal(err)
			}
			if cert.SignatureAlgorithm != c.sigAlg {
				t.Errorf("signature algorithm %s, want %s", cert.SignatureAlgorithm, c.sigAlg)
			}
			iss := &ca.Issuer{Cert: cert, Key: key}
			user, err := iss.UserCert(userKey.Public(), "u-1", "Niels Bohr", t0, t0.AddDate(1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(cert)
			if _, err := user.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	rootKey := &counting{Signer: generate(t, ks, "root", hsm.ECDSAP256)}
	subKey := &counting{Signer: generate(t, ks, "issuer", hsm.ECDSAP256)}
	other := generate(t, ks, "other", hsm.ECDSAP256)
	userKey := generate(t, ks, "user", hsm.ECDSAP256)

	rootCert, err := ca.NewRoot(rootKey, root, t0, t0.AddDate(20, 0, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	subCert, err := ca.NewIntermediate(subKey.Public(), sub, t0, t0.AddDate(10, 0, 0), 0, rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	iss := &ca.Issuer{Cert: subCert, Key: subKey}
	userCert, err := iss.UserCert(userKey.Public(), "u-1", "Niels Bohr", t0, t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)

	end := t0.AddDate(5, 0, 0)
	for _, c := range []struct {
		name string
		do   func() error
		want string
	}{
		{"root without a common name", func() error {
			_, err := ca.NewRoot(rootKey, ca.Subject{CommonName: "  ", Organization: "Segl"}, t0, end, 0)
			return err
		}, "common name is empty"},
		{"root ending when it starts", func() error {
			_, err := ca.NewRoot(rootKey, root, t0, t0, 0)
			return err
		}, "must be after not-before"},
		{"root ending before it starts", func() error {
			_, err := ca.NewRoot(rootKey, root, end, t0, 0)
			return err
		}, "must be after not-before"},
		{"root without a validity", func() error {
			_, err := ca.NewRoot(rootKey, root, time.Time{}, end, 0)
			return err
		}, "both required"},
		{"negative path length", func() error {
			_, err := ca.NewRoot(rootKey, root, t0, end, -1)
			return err
		}, "must be 0 or more"},
		{"country spelled out", func() error {
			_, err := ca.NewRoot(rootKey, ca.Subject{CommonName: "X", Country: "Denmark"}, t0, end, 0)
			return err
		}, "two capital letters"},
		{"intermediate outliving its issuer", func() error {
			_, err := ca.NewIntermediate(other.Public(), sub, t0, t0.AddDate(21, 0, 0), 0, rootCert, rootKey)
			return err
		}, "after the issuer's not-after"},
		{"intermediate older than its issuer", func() error {
			_, err := ca.NewIntermediate(other.Public(), sub, t0.AddDate(-1, 0, 0), end, 0, rootCert, rootKey)
			return err
		}, "before the issuer's not-before"},
		{"intermediate as long a path as its issuer", func() error {
			_, err := ca.NewIntermediate(other.Public(), sub, t0, end, 1, rootCert, rootKey)
			return err
		}, "less than the issuer's 1"},
		{"CA below path length 0", func() error {
			_, err := ca.NewIntermediate(other.Public(), ca.Subject{CommonName: "Third"}, t0, end, 0, subCert, subKey)
			return err
		}, "may not certify another CA"},
		{"intermediate named like its issuer", func() error {
			_, err := ca.NewIntermediate(other.Public(), root, t0, end, 0, rootCert, rootKey)
			return err
		}, "is the issuer's"},
		{"issuer key of another certificate", func() error {
			_, err := ca.NewIntermediate(other.Public(), sub, t0, end, 0, rootCert, subKey)
			return err
		}, "not the key of the issuer certificate"},
		{"intermediate without an issuer", func() error {
			_, err := ca.NewIntermediate(other.Public(), sub, t0, end, 0, nil, rootKey)
			return err
		}, "no issuer certificate"},
		{"issuer that is no CA", func() error {
			_, err := (&ca.Issuer{Cert: userCert, Key: userKey}).UserCert(other.Public(), "u-2", "Tycho Brahe", t0, end)
			return err
		}, "is not a CA certificate"},
		{"RSA 1024", func() error {
			_, err := ca.NewIntermediate(rsa1024.Public(), sub, t0, end, 0, rootCert, rootKey)
			return err
		}, "at least 2048 bits"},
		{"P-521", func() error {
			_, err := iss.UserCert(p521.Public(), "u-2", "Tycho Brahe", t0, end)
			return err
		}, "P-256 or P-384"},
		{"P-224", func() error {
			_, err := ca.NewIntermediate(p224.Public(), sub, t0, end, 0, rootCert, rootKey)
			return err
		}, "P-256 or P-384"},
		{"no key", func() error {
			_, err := iss.UserCert(nil, "u-2", "Tycho Brahe", t0, end)
			return err
		}, "no public key"},
		{"user without a name", func() error {
			_, err := iss.UserCert(other.Public(), "u-2", " ", t0, end)
			return err
		}, "the user's name"},
		{"user without an ID", func() error {
			_, err := iss.UserCert(other.Public(), "", "Tycho Brahe", t0, end)
			return err
		}, "the user's ID"},
		{"user outliving the issuer", func() error {
			_, err := iss.UserCert(other.Public(), "u-2", "Tycho Brahe", t0, t0.AddDate(10, 0, 1))
			return err
		}, "after the issuer's not-after"},
		{"user certificate ending when it starts", func() error {
			_, err := iss.UserCert(other.Public(), "u-2", "Tycho Brahe", end, end)
			return err
		}, "must be after not-before"},
		{"chain that does not start with the issuer", func() error {
			_, err := (&ca.Issuer{Cert: subCert, Key: subKey, Chain: []*x509.Certificate{rootCert}}).UserCert(other.Public(), "u-2", "Tycho Brahe", t0, end)
			return err
		}, "chain does not start"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := rootKey.n.Load() + subKey.n.Load()
			err := c.do()
			if !errors.Is(err, ca.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalid saying %q", err, c.want)
			}
			if after := rootKey.n.Load() + subKey.n.Load(); after != before {
				t.Errorf("the HSM signed %d times for a refused request", after-before)
			}
		})
	}
}

// lying signs with one HSM key while claiming another's public key.
type lying struct {
	crypto.Signer
	claim crypto.PublicKey
}

func (l lying) Public() crypto.PublicKey { return l.claim }

func TestBadSignatureNotReturned(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	rootKey := generate(t, ks, "root", hsm.ECDSAP256)
	other := generate(t, ks, "other", hsm.ECDSAP256)
	rootCert, err := ca.NewRoot(rootKey, root, t0, t0.AddDate(20, 0, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.NewIntermediate(other.Public(), sub, t0, t0.AddDate(1, 0, 0), 0, rootCert, lying{other, rootKey.Public()})
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("a certificate with a bad signature: %v, %v", cert, err)
	}
	if cert != nil {
		t.Fatal("returned the certificate")
	}
}

func TestLint(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	if err := ca.LintRoot(p384.Public(), root, t0, t0.AddDate(20, 0, 0), 1); err != nil {
		t.Fatal(err)
	}
	if err := ca.LintRoot(ed.Public(), root, t0, t0.AddDate(20, 0, 0), 1); err != nil {
		t.Fatal(err)
	}
	if err := ca.LintRoot(p384.Public(), ca.Subject{}, t0, t0.AddDate(20, 0, 0), 1); !errors.Is(err, ca.ErrInvalid) {
		t.Fatalf("empty subject: %v", err)
	}
	rootCert, err := ca.NewRoot(p384, root, t0, t0.AddDate(20, 0, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.LintIntermediate(p256.Public(), sub, t0, t0.AddDate(10, 0, 0), 0, rootCert); err != nil {
		t.Fatal(err)
	}
	if err := ca.LintIntermediate(p256.Public(), sub, t0, t0.AddDate(30, 0, 0), 0, rootCert); !errors.Is(err, ca.ErrInvalid) ||
		!strings.Contains(err.Error(), "after the issuer's not-after") {
		t.Fatalf("intermediate outliving the root: %v", err)
	}
}

func TestCardCert(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	rootKey := generate(t, ks, "root", hsm.ECDSAP256)
	cardKey := generate(t, ks, "card", hsm.ECDSAP256)
	rootCert, err := ca.NewRoot(rootKey, root, t0, t0.AddDate(20, 0, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	iss := &ca.Issuer{Cert: rootCert, Key: rootKey}
	a, err := iss.CardCert(cardKey.Public(), "u-4711", "Karen Blixen", 29173673, t0, t0.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := iss.CardCert(cardKey.Public(), "u-4711", "Karen Blixen", 29173673, t0, t0.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ca.CardSerial(a) != 29173673 || ca.CardSerial(b) != 29173673 || a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Fatalf("serials %x %x", a.SerialNumber, b.SerialNumber)
	}
	if a.KeyUsage != x509.KeyUsageDigitalSignature || a.Subject.CommonName != "Karen Blixen" || !samePub(a.PublicKey, cardKey.Public()) {
		t.Fatalf("certificate %+v", a)
	}
	if err := a.CheckSignatureFrom(rootCert); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.CardCert(cardKey.Public(), "u-4711", "Karen Blixen", 0, t0, t0.AddDate(2, 0, 0)); err != nil {
		// Serial 0 still has 64 random bits after it: only an all-zero
		// draw would be refused.
		t.Fatalf("card serial 0: %v", err)
	}
}

func samePub(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
