// Package devenv makes and reuses the embedded development setup that
// `segld dev` (and `make run`) runs on: a SoftHSM token with the daemon's
// keys, an issuer CA whose key is in that token, a private TLS CA with a
// server certificate and two client certificates (a relying party and an
// officer), a SQLite database (or, with Options.Database, the URL of an
// existing PostgreSQL database), a segl.yaml, and an env file of the
// variables segl needs.
//
// It is for a laptop, not production: the TLS keys are plain files, and
// with `segl vectors verify` it is the only code in the binaries that uses
// package softhsm.
package devenv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/softhsm"
)

// Token label of the development token.
const Token = "segl-dev"

// configHeader opens the config segld dev writes: what tells a
// development setup from a real one.
const configHeader = "# segld's development config, made by segld dev"

// Names of what Setup makes under the directory.
const (
	ConfigFile   = "segl.yaml"
	EnvFile      = "env"
	IssuerCAFile = "issuer-ca.pem"
	DevRP        = "dev-rp"
)

// Env is what Setup made, with absolute paths.
type Env struct {
	Dir        string
	Config     string // segl.yaml
	Token      *softhsm.Token
	Addr       string // https://host:port
	OpsAddr    string // http://host:port of the plain-HTTP health and metrics, or empty
	AppAddr    string // host:port of the app API (TLS, no client certificate), or empty
	TLSCA      string // the server's and clients' CA
	Cert, Key  string // the officer's client certificate
	RPCert     string
	RPKey      string
	IssuerCA   string
	Database   string // the SQLite file, or the PostgreSQL URL the config names
	Created    bool   // false when everything was there already
	Registered []string
}

// Options are what a development setup is made for.
type Options struct {
	Listen    string // the API's host:port
	OpsListen string // plain HTTP health and metrics, or "" for none
	AppListen string // the code app's API, or "" for none
	// Outbox is the development SMS adapter's binary (segl-sms-outbox),
	// or "" for no SMS. Its SHA-256 is pinned in the config, and pinned
	// again when a rebuild changed it.
	Outbox string
	// Database is an existing PostgreSQL database's URL, without a
	// password, for the config made on first start; "" for the SQLite
	// file segl.db beside it.
	Database string
}

// Outbox is the file the development SMS adapter writes each SMS to.
func (e *Env) Outbox() string { return filepath.Join(e.Dir, "sms", "outbox.jsonl") }

// Setup makes what is missing under dir for a daemon as o says, and
// returns where everything is. It is safe to run again: what exists is
// reused, never replaced, but for the outbox's pinned checksum.
func Setup(dir string, o Options) (*Env, error) {
	listen, opsListen := o.Listen, o.OpsListen
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", listen, err)
	}
	if err := checkDatabase(o.Database); err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := sameDatabase(filepath.Join(dir, ConfigFile), o.Database); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, Config: filepath.Join(dir, ConfigFile), Addr: "https://" + listen,
		OpsAddr: map[bool]string{true: "http://" + opsListen}[opsListen != ""], AppAddr: o.AppListen,
		TLSCA: filepath.Join(dir, "tls", "ca.pem"), Cert: filepath.Join(dir, "tls", "officer.pem"), Key: filepath.Join(dir, "tls", "officer.key"),
		RPCert: filepath.Join(dir, "tls", "rp.pem"), RPKey: filepath.Join(dir, "tls", "rp.key"),
		IssuerCA: filepath.Join(dir, IssuerCAFile), Database: filepath.Join(dir, "segl.db")}
	if o.Database != "" {
		e.Database = o.Database
	}

	if e.Token, err = token(filepath.Join(dir, "hsm"), e); err != nil {
		return nil, err
	}
	if err := e.keys(); err != nil {
		return nil, err
	}
	if err := e.tlsFiles(host); err != nil {
		return nil, err
	}
	if err := e.writeConfig(listen, opsListen, o.AppListen, o.Outbox, o.Database); err != nil {
		return nil, err
	}
	if err := e.repinOutbox(o.Outbox); err != nil {
		return nil, err
	}
	if err := e.writeEnv(); err != nil {
		return nil, err
	}
	return e, nil
}

// token makes the SoftHSM token on first use and finds it afterwards. The
// module reads SOFTHSM2_CONF when it is initialised, so it is set here,
// before anything in this process opens the token.
func token(dir string, e *Env) (*softhsm.Token, error) {
	marker := filepath.Join(dir, ".initialised")
	if exists(marker) {
		tok, err := softhsm.Existing(dir, Token)
		if err != nil {
			return nil, err
		}
		return tok, os.Setenv("SOFTHSM2_CONF", tok.Conf)
	}
	tok, err := softhsm.Create(dir, Token)
	if err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", tok.Conf); err != nil {
		return nil, err
	}
	if err := tok.Init(); err != nil {
		return nil, fmt.Errorf("initialise the dev token: %w", err)
	}
	e.Created = true
	return tok, os.WriteFile(marker, nil, 0o600)
}

// keys makes the daemon's token keys that are missing, and the issuer CA
// certificate.
func (e *Env) keys() error {
	ks, err := hsm.Open(e.Token.Config())
	if err != nil {
		return err
	}
	defer ks.Close()
	for _, k := range []struct {
		label string
		t     hsm.KeyType
	}{{"issuer", hsm.ECDSAP256}, {"audit", hsm.ECDSAP256}, {"pepper", hsm.HMACSHA256}, {"activation", hsm.HMACSHA256}, {"codecard", hsm.HMACSHA256}, {"dlcode", hsm.HMACSHA256}} {
		if _, err := ks.Find(k.label); err == nil {
			continue
		} else if !errors.Is(err, hsm.ErrKeyNotFound) {
			return err
		}
		if _, err := ks.Generate(k.label, k.t); err != nil {
			return fmt.Errorf("generate %s: %w", k.label, err)
		}
		e.Created = true
	}
	if _, err := ks.Find("kek"); errors.Is(err, hsm.ErrKeyNotFound) {
		if _, err := ks.GenerateKEK("kek", e.Token.SOPIN); err != nil {
			return fmt.Errorf("generate the KEK: %w", err)
		}
		e.Created = true
	} else if err != nil {
		return err
	}
	if exists(e.IssuerCA) {
		return nil
	}
	key, err := ks.Signer("issuer")
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	cert, err := ca.NewRoot(key, ca.Subject{CommonName: "Segl Development Issuer CA", Organization: "Segl (development)", Country: "DK"},
		now.Add(-time.Hour), now.AddDate(10, 0, 0), 0)
	if err != nil {
		return fmt.Errorf("issuer CA certificate: %w", err)
	}
	e.Created = true
	return writeNew(e.IssuerCA, pemCert(cert.Raw), 0o644)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tlsFiles makes the development TLS CA, server certificate (for host,
// localhost and 127.0.0.1) and the two client certificates.
func (e *Env) tlsFiles(host string) error {
	caKeyPath := filepath.Join(e.Dir, "tls", "ca.key")
	if exists(e.TLSCA) {
		return nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "Segl Development TLS CA", Organization: []string{"Segl (development)"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, server bool, certPath, keyPath string) error {
		return issueLeaf(caCert, caKey, name, server, host, certPath, keyPath)
	}
	if err := leaf("segld (development)", true, filepath.Join(e.Dir, "tls", "server.pem"), filepath.Join(e.Dir, "tls", "server.key")); err != nil {
		return err
	}
	if err := leaf("Development relying party", false, e.RPCert, e.RPKey); err != nil {
		return err
	}
	if err := leaf("Development officer", false, e.Cert, e.Key); err != nil {
		return err
	}
	if err := writeKey(caKeyPath, caKey); err != nil {
		return err
	}
	e.Created = true
	// The CA certificate last: its presence means the set is complete.
	return writeNew(e.TLSCA, pemCert(caDER), 0o644)
}

// issueLeaf makes a key and a certificate for it from the development
// TLS CA: for a server (host, localhost, the loopback addresses) or a
// client. Neither file may exist yet.
func issueLeaf(ca *x509.Certificate, caKey crypto.Signer, name string, server bool, host, certPath, keyPath string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	t := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"Segl (development)"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		t.DNSNames = []string{"localhost"}
		t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else if host != "" && ip == nil {
			t.DNSNames = append(t.DNSNames, host)
		}
	}
	for _, p := range []string{certPath, keyPath} {
		if exists(p) {
			return fmt.Errorf("%s exists already: it is not overwritten", p)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, ca, &k.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeNew(certPath, pemCert(der), 0o644); err != nil {
		return err
	}
	return writeKey(keyPath, k)
}

// ClientCertificate issues a client certificate (CN name) and its key
// from the development TLS CA of the setup in dir, into certPath and
// keyPath: a relying party for development, to register with `segl rp
// create`. dir must be a setup segld dev made; nothing else is touched.
func ClientCertificate(dir, name, certPath, keyPath string) error {
	head, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	caKeyPath, caPath := filepath.Join(dir, "tls", "ca.key"), filepath.Join(dir, "tls", "ca.pem")
	if err != nil || !strings.HasPrefix(string(head), configHeader) || !exists(caKeyPath) || !exists(caPath) {
		return fmt.Errorf("%s is not a directory segld dev made (no %s of its own, or no tls/ca.key): "+
			"outside development, the bank's own PKI issues relying parties' certificates", dir, ConfigFile)
	}
	cas, err := config.ReadCertificates(caPath)
	if err != nil {
		return fmt.Errorf("%s: %w", caPath, err)
	}
	b, err := os.ReadFile(caKeyPath)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return fmt.Errorf("%s holds no PEM key", caKeyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", caKeyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%s is not a signing key", caKeyPath)
	}
	return issueLeaf(cas[0], signer, name, false, "", certPath, keyPath)
}

func writeKey(path string, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func (e *Env) writeConfig(listen, opsListen, appListen, outbox, pgURL string) error {
	if exists(e.Config) {
		return nil
	}
	database := "segl.db   # SQLite, beside this file; or a PostgreSQL URL (docs/config.md)"
	if pgURL != "" {
		q, err := yaml.Marshal(pgURL)
		if err != nil {
			return err
		}
		database = strings.TrimSuffix(string(q), "\n") + "   # a password, if the server wants one: the block form with password-file (docs/config.md)"
	}
	ops := "# ops-listen: 127.0.0.1:8444   # plain HTTP /healthz, /readyz, /metrics"
	if opsListen != "" {
		ops = "ops-listen: " + opsListen + "   # plain HTTP /healthz, /readyz, /metrics, for load balancers and Prometheus"
	}
	if appListen != "" {
		ops += "\napp-listen: " + appListen + "   # the code app's API: TLS, no client certificates (docs/app.md)"
	} else {
		ops += "\napp-listen: \"\"   # none; e.g. 127.0.0.1:8445 for the code app's API"
	}
	ops += "\napp:\n  max-devices: 3"
	plugins := "# plugins: none (no segl-sms-outbox beside segld when this was made)\nsms: {}\n"
	documents := "documents:\n  verifier: \"\"   # a docverify plugin (segl-docverify-icao9303) with the CSCAs to trust\n  timeout: 10s\n" +
		"piv:\n  attestation-roots: \"\"   # roots besides Yubico's for YubiKey attestations (a test PKI)\n" +
		"  min-ecdsa-firmware: 5.7.0   # older YubiKeys' ECDSA has the EUCLEAK side channel\n  allow-pin-policy-never: false\n"
	if outbox != "" {
		sum, err := fileSHA256(outbox)
		if err != nil {
			return err
		}
		plugins = fmt.Sprintf(`plugins:
  # The development SMS adapter: each SMS a line of sms/outbox.jsonl.
  - name: outbox
    contract: sms
    command: %s
    sha256: %s
    config:
      file: %s
sms:
  adapters: [outbox]
  timeout: 10s
  language: en
  codes-per-order: 3
  per-user-hour: 5
  templates:
    en:
      payment: "%s"
      login: "%s"
    da:
      payment: "%s"
      login: "%s"
`, outbox, sum, e.Outbox(),
			smsgate.DefaultTemplates["en"].Payment, smsgate.DefaultTemplates["en"].Login,
			smsgate.DefaultTemplates["da"].Payment, smsgate.DefaultTemplates["da"].Login)
	}
	cfg := fmt.Sprintf(configHeader+`: every key, at its
# default unless the development setup needs another value (docs/config.md
# says what each one means). Relative paths are relative to this file. The
# HSM PIN is not here: it is in the file hsm.pin-file names.
listen: %s
%s
database: %s
hsm:
  module: %s
  token: %s
  pin-file: %s
  sessions: 8
  session-wait: 10s
  unwrap-cache: 1024
keys:
  issuer: issuer
  kek: kek
  pepper: pepper
  audit: audit
  activation: activation
  codecard: codecard
  dlcode: dlcode
tls:
  certificate: tls/server.pem
  key: tls/server.key
  client-ca: tls/ca.pem
issuer:
  name: segl-dev
  certificate: %s
orders:
  expiry: 3m
  max-failures: 5
  block: 15m
  challenge-reissues: 3
  challenges-per-hour: 20
  assertion-lifetime: 5m
  qr-max-age: 3s
  document-check-from: {DKK: 10000000}   # DKK 100,000.00 and more: a passport check besides two factors (refused without documents.verifier)
otp:
  look-ahead: 10
  resync-window: 100
  totp-window: 1
  max-failures: 5
  block: 15m
  max-block: 24h
passwords:
  memory-mib: 64
  passes: 2
  lanes: 2
api:
  max-body: 16384
audit:
  checkpoint-every: 100
  checkpoint-interval: 1m
  # The last checkpoint signed is kept in the HSM, in this data object;
  # every checkpoint is also appended to this file, a copy to keep
  # elsewhere (segl audit verify --checkpoints FILE).
  checkpoint-object: audit-checkpoint
  checkpoint-file: audit-checkpoints.jsonl
log:
  format: json
  level: info
%s
officers:
  - id: dev-officer
    name: Development officer
    certificate: tls/officer.pem
`, listen, ops, database, e.Token.Module, Token, rel(e.Dir, e.Token.PINFile), IssuerCAFile, strings.TrimRight(plugins+documents, "\n"))
	return writeNew(e.Config, []byte(cfg), 0o600)
}

// checkDatabase holds --database to what the config takes, before
// anything is made: a PostgreSQL URL of the right form, without a
// password.
func checkDatabase(pgURL string) error {
	if pgURL == "" {
		return nil
	}
	err := config.CheckPostgresURL(pgURL)
	if errors.Is(err, config.ErrPasswordInURL) {
		return errors.New("--database: the URL holds a password, and the config never does: connect by a Unix socket " +
			"(postgres:///DBNAME?host=/run/postgresql) with peer or trust authentication, or make the setup with a URL " +
			"without the password and then give it by database.password-file in the config (docs/config.md)")
	}
	if err != nil {
		return fmt.Errorf("--database: %w", err)
	}
	return nil
}

// sameDatabase refuses a --database that is not the database of the
// setup's existing config: a setup is reused, never changed.
func sameDatabase(configPath, pgURL string) error {
	if pgURL == "" || !exists(configPath) {
		return nil
	}
	c, err := config.Load(configPath)
	if err != nil {
		return nil // segld says what is wrong with it when it loads it
	}
	if c.DatabaseKind() == config.DatabasePostgres && c.Database.URL == pgURL {
		return nil
	}
	have := c.Database.URL
	if have == "" {
		have = "the SQLite file " + c.Database.Path
	}
	return fmt.Errorf("--database: the setup in %s is on %s, and a setup is not changed: "+
		"use another --dir for another database, or edit database in %s", filepath.Dir(configPath), have, configPath)
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("the SMS outbox plugin: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

var pinnedOutbox = regexp.MustCompile(`(?m)^(    command: )(.*)\n(    sha256: )([0-9a-f]{64})$`)

// repinOutbox pins the outbox again when its binary changed since the
// config was made (a rebuild): the development config follows its own
// build. A production config is never changed so.
func (e *Env) repinOutbox(outbox string) error {
	if outbox == "" {
		return nil
	}
	b, err := os.ReadFile(e.Config)
	if err != nil || !strings.HasPrefix(string(b), configHeader) {
		return err
	}
	m := pinnedOutbox.FindSubmatch(b)
	if m == nil || string(m[2]) != outbox {
		return nil
	}
	sum, err := fileSHA256(outbox)
	if err != nil || sum == string(m[4]) {
		return err
	}
	out := pinnedOutbox.ReplaceAll(b, []byte("${1}${2}\n${3}"+sum))
	tmp := e.Config + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, e.Config)
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return r
	}
	return p
}

// writeEnv writes (again) the file a shell sources to reach this setup.
func (e *Env) writeEnv() error {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var b strings.Builder
	fmt.Fprintf(&b, "# made by segld dev: . %s\n", filepath.Join(e.Dir, EnvFile))
	for _, kv := range [][2]string{
		{"SEGL_ADDR", e.Addr}, {"SEGL_OPS_ADDR", e.OpsAddr}, {"SEGL_APP_ADDR", e.AppAddr}, {"SEGL_CA", e.TLSCA}, {"SEGL_CERT", e.Cert}, {"SEGL_KEY", e.Key},
		{"SEGL_RP_CERT", e.RPCert}, {"SEGL_RP_KEY", e.RPKey}, {"SEGL_ISSUER_CA", e.IssuerCA},
		{"SOFTHSM2_CONF", e.Token.Conf}, {hsm.EnvModule, e.Token.Module}, {hsm.EnvToken, Token},
		{hsm.EnvPINFile, e.Token.PINFile}, {hsm.EnvSOPINFile, e.Token.SOPINFile},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], q(kv[1]))
	}
	path := filepath.Join(e.Dir, EnvFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Bootstrap registers the development relying party in d's store if it
// is not registered yet, so the README's curl session works at once.
func Bootstrap(d *daemon.Daemon, cfg *config.Config) error {
	pemBytes, err := os.ReadFile(filepath.Join(cfg.Dir, "tls", "rp.pem"))
	if err != nil {
		return err
	}
	cert, err := admin.ClientCertificate(pemBytes)
	if err != nil {
		return err
	}
	fp := admin.Fingerprint(cert)
	return d.Store().Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.CallerByFingerprint(fp); err == nil {
			return nil
		}
		now := time.Now()
		if err := tx.CreateRP(&store.RP{ID: DevRP, Name: "Development relying party", Fingerprint: fp, CertPEM: pemBytes, Created: now}); err != nil {
			return err
		}
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminRPCreated, Actor: "system", Subject: "rp:" + DevRP, Outcome: "ok",
			Details: map[string]string{"fingerprint": fp, "source": "segld dev"}})
		return err
	})
}
