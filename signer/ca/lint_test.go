package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLintCatchesBadTemplates breaks good templates one way at a time and
// checks that lint, which signs only with throwaway keys, refuses each.
func TestLintCatchesBadTemplates(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	root, err := NewRoot(key, Subject{CommonName: "Root"}, t0, t0.AddDate(10, 0, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		leaf   bool
		breaks func(*x509.Certificate)
		want   string
	}{
		{"extended key usage", true, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, "extended key usage"},
		{"no subject key identifier on a leaf", true, func(c *x509.Certificate) { c.SubjectKeyId = nil }, "subject key identifier"},
		{"leaf that signs certificates", true, func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign }, "leaf certificate's key usage"},
		{"CA without CRL signing", false, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }, "CRL signing"},
		{"no basic constraints", true, func(c *x509.Certificate) { c.BasicConstraintsValid = false }, "no basic constraints"},
		{"CA flag dropped", false, func(c *x509.Certificate) { c.IsCA, c.MaxPathLen, c.MaxPathLenZero = false, -1, false }, "leaf certificate's key usage"},
		{"serial number", true, func(c *x509.Certificate) { c.SerialNumber.Neg(c.SerialNumber) }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tmpl *x509.Certificate
			if c.leaf {
				tmpl, err = template(pkix.Name{CommonName: "Leaf"}, key.Public(), t0, t0.AddDate(1, 0, 0))
			} else {
				tmpl, err = caTemplate(key.Public(), Subject{CommonName: "Sub"}, t0, t0.AddDate(1, 0, 0), 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.leaf {
				tmpl.KeyUsage = userKeyUsage
			}
			tmpl.AuthorityKeyId = root.SubjectKeyId
			if err := lint(tmpl, root, key.Public(), key.Public()); err != nil {
				t.Fatalf("the unbroken template: %v", err)
			}
			c.breaks(tmpl)
			err := lint(tmpl, root, key.Public(), key.Public())
			if !errors.Is(err, ErrLint) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrLint saying %q", err, c.want)
			}
		})
	}
}
