package cms_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/cms"
	"github.com/segl/segl/softhsm/softhsmtest"
)

func certify(t *testing.T, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, ca bool, name string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: ca}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// opensslVerify runs exactly the command the README gives auditors.
func opensslVerify(t *testing.T, sig []byte, doc []byte, caFile string) error {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sig.der"), sig, 0o644)
	os.WriteFile(filepath.Join(dir, "doc"), doc, 0o644)
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-content", filepath.Join(dir, "doc"), "-inform", "DER",
		"-in", filepath.Join(dir, "sig.der"), "-CAfile", caFile, "-out", os.DevNull).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func TestHSMKeysVerifyWithOpenSSL(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	rootKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	root := certify(t, &rootKey.PublicKey, nil, rootKey, true, "Root")
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inter := certify(t, &interKey.PublicKey, root, rootKey, true, "Intermediate")
	caFile := filepath.Join(t.TempDir(), "root.pem")
	writePEM(t, caFile, root)
	doc := []byte("the document\n")
	sum := sha256.Sum256(doc)
	for _, typ := range []hsm.KeyType{hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048} {
		t.Run(string(typ), func(t *testing.T) {
			if _, err := ks.Generate("user-"+string(typ), typ); err != nil {
				t.Fatal(err)
			}
			key, err := ks.Signer("user-" + string(typ))
			if err != nil {
				t.Fatal(err)
			}
			user := certify(t, key.Public(), inter, interKey, false, "User")
			sig, err := cms.SignDetached(sum[:], key, []*x509.Certificate{user, inter}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := opensslVerify(t, sig, doc, caFile); err != nil {
				t.Fatalf("openssl refused: %v", err)
			}
			if err := opensslVerify(t, sig, []byte("the document!\n"), caFile); err == nil {
				t.Fatal("openssl accepted a changed document")
			}
			// The attributes, as openssl prints them.
			path := filepath.Join(t.TempDir(), "s.der")
			os.WriteFile(path, sig, 0o644)
			out, err := exec.Command("openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", path).CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"signingTime", "messageDigest", "id-smime-aa-signingCertificateV2", "eContent: <ABSENT>"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("no %s in\n%s", want, out)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certify(t, &key.PublicKey, nil, key, false, "self")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("x"))
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edCert := certify(t, edKey.Public(), nil, edKey, false, "ed")
	for name, f := range map[string]func() error{
		"short digest": func() error {
			_, err := cms.SignDetached(sum[:20], key, []*x509.Certificate{cert}, time.Now())
			return err
		},
		"no chain": func() error { _, err := cms.SignDetached(sum[:], key, nil, time.Now()); return err },
		"another key": func() error {
			_, err := cms.SignDetached(sum[:], other, []*x509.Certificate{cert}, time.Now())
			return err
		},
		"Ed25519 keys": func() error {
			_, err := cms.SignDetached(sum[:], edKey, []*x509.Certificate{edCert}, time.Now())
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
