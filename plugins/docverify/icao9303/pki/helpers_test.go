package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// openssl runs the openssl command and returns its standard output. The
// tests that cross-check with OpenSSL need it: without it they fail,
// saying so, rather than skip.
func openssl(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("these tests need the openssl command (apt-get install openssl): ", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("openssl", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("openssl %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

func mustOpenSSL(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := openssl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pemDER is the contents of the first PEM block of a file.
func pemDER(t testing.TB, path string) []byte {
	t.Helper()
	b, _ := pem.Decode(readFile(t, path))
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	return b.Bytes
}

func mustParse(t testing.TB, der []byte) *Certificate {
	t.Helper()
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An OpenSSL-made test PKI: a configuration with the extensions of a
// CSCA and of a document signer.
const opensslConfig = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[csca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[dsc]
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[dsc_critical]
keyUsage = critical,digitalSignature
authorityKeyIdentifier = keyid
1.3.6.1.4.1.99999.1 = critical,DER:0500
[ca]
default_ca = testca
[testca]
database = index.txt
crlnumber = crlnumber
default_crl_days = 30
[crlext]
authorityKeyIdentifier = keyid
[crlext_critical]
authorityKeyIdentifier = keyid
2.5.29.28 = critical,DER:3003830101
`

// osslCert is a certificate OpenSSL made and its key.
type osslCert struct {
	dir      string
	key, pem string // files
	der      []byte
}

// newKeyArgs are openssl req's arguments for a new key: "rsa:2048",
// "rsa-pss", "ec:CURVE" (named) or "ec:CURVE:explicit".
func newKeyArgs(spec string) []string {
	parts := strings.Split(spec, ":")
	switch parts[0] {
	case "rsa":
		return []string{"-newkey", spec}
	case "rsa-pss":
		return []string{"-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"}
	case "ec":
		args := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + parts[1]}
		if len(parts) > 2 && parts[2] == "explicit" {
			args = append(args, "-pkeyopt", "ec_param_enc:explicit")
		} else {
			args = append(args, "-pkeyopt", "ec_param_enc:named_curve")
		}
		return args
	}
	panic("bad key spec " + spec)
}

func opensslDir(t testing.TB) string {
	dir := t.TempDir()
	cnf := strings.NewReplacer("= index.txt", "= "+filepath.Join(dir, "index.txt"),
		"= crlnumber", "= "+filepath.Join(dir, "crlnumber")).Replace(opensslConfig)
	writeFile(t, filepath.Join(dir, "openssl.cnf"), []byte(cnf))
	writeFile(t, filepath.Join(dir, "index.txt"), nil)
	writeFile(t, filepath.Join(dir, "crlnumber"), []byte("01\n"))
	return dir
}

// opensslCSCA makes a self-signed CSCA with OpenSSL: req -x509 -newkey.
func opensslCSCA(t testing.TB, dir, name, keySpec, subj, md string, sigopts ...string) *osslCert {
	t.Helper()
	c := &osslCert{dir: dir, key: filepath.Join(dir, name+".key"), pem: filepath.Join(dir, name+".pem")}
	args := append([]string{"req", "-x509", "-new", "-config", filepath.Join(dir, "openssl.cnf"),
		"-extensions", "csca", "-nodes", "-keyout", c.key, "-out", c.pem, "-subj", subj,
		"-days", "3650", "-set_serial", "1", "-" + md}, newKeyArgs(keySpec)...)
	for _, o := range sigopts {
		args = append(args, "-sigopt", o)
	}
	mustOpenSSL(t, args...)
	c.der = pemDER(t, c.pem)
	return c
}

// opensslIssue makes a certificate signed by ca: req -new -newkey, then
// x509 -req with the extensions of section ext.
func (ca *osslCert) issue(t testing.TB, name, keySpec, subj, md, ext string, serial int, sigopts ...string) *osslCert {
	t.Helper()
	dir := ca.dir
	c := &osslCert{dir: dir, key: filepath.Join(dir, name+".key"), pem: filepath.Join(dir, name+".pem")}
	csr := filepath.Join(dir, name+".csr")
	mustOpenSSL(t, append([]string{"req", "-new", "-config", filepath.Join(dir, "openssl.cnf"),
		"-nodes", "-keyout", c.key, "-out", csr, "-subj", subj}, newKeyArgs(keySpec)...)...)
	args := []string{"x509", "-req", "-in", csr, "-CA", ca.pem, "-CAkey", ca.key,
		"-set_serial", fmt.Sprint(serial), "-days", "365", "-" + md,
		"-extfile", filepath.Join(dir, "openssl.cnf"), "-extensions", ext, "-out", c.pem}
	for _, o := range sigopts {
		args = append(args, "-sigopt", o)
	}
	mustOpenSSL(t, args...)
	c.der = pemDER(t, c.pem)
	return c
}

// The Go-made test PKI (crypto/x509): keys are made once per run.
var (
	keysMu sync.Mutex
	keys   = map[string]crypto.Signer{}
)

func goKey(t testing.TB, spec string) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[spec]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch spec {
	case "rsa2048", "rsa2048b":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "P-224", "P-224b":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "P-256", "P-256b":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		panic("bad key " + spec)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys[spec] = k
	return k
}

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func cscaTemplate(cn string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{Country: []string{"XX"}, Organization: []string{"Segl Test"}, CommonName: cn},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func dscTemplate(cn string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{Country: []string{"XX"}, Organization: []string{"Segl Test"}, OrganizationalUnit: []string{"Document Signer"}, CommonName: cn},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// goCert signs tmpl for key with parent's key (self-signed when parent
// is nil) and returns the DER and the certificate as crypto/x509 reads it.
func goCert(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) ([]byte, *x509.Certificate) {
	t.Helper()
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, c
}

// flipIn returns a copy of der with one bit changed in the first
// occurrence of marker.
func flipIn(t testing.TB, der []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(der, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not in the DER", marker)
	}
	out := bytes.Clone(der)
	out[i+len(marker)-1] ^= 1
	return out
}
