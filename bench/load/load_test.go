package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/cms"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/pskc"
)

func ds(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	// 1..100 ms: nearest rank.
	var hundred []int
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, i)
	}
	for _, c := range []struct {
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{nil, 50, 0},
		{ds(7), 50, 7 * time.Millisecond},
		{ds(7), 99, 7 * time.Millisecond},
		{ds(1, 2), 50, 1 * time.Millisecond},
		{ds(1, 2, 3), 50, 2 * time.Millisecond},
		{ds(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ds(hundred...), 50, 50 * time.Millisecond},
		{ds(hundred...), 99, 99 * time.Millisecond},
		{ds(hundred...), 100, 100 * time.Millisecond},
		{ds(hundred...), 0.1, 1 * time.Millisecond},
		// 10 samples: p99 is the largest, not an interpolation.
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 99, 1000 * time.Millisecond},
	} {
		if got := percentile(c.samples, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.samples, c.p, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := summarize(ds(30, 10, 20, 40), 2*time.Second) // unsorted on purpose
	if s.n != 4 || s.perS != 2 || s.p50 != 20*time.Millisecond || s.p99 != 40*time.Millisecond ||
		s.mean != 25*time.Millisecond || s.max != 40*time.Millisecond || s.seconds != 2 {
		t.Fatalf("%+v", s)
	}
	if z := summarize(nil, 0); z.n != 0 || z.perS != 0 || z.p50 != 0 {
		t.Fatalf("no samples: %+v", z)
	}
}

func TestLineRoundTrip(t *testing.T) {
	l := (&line{}).add("flow", "loop").add("concurrency", 16).add("orders_per_s", rate(389.6)).
		add("p50_ms", 35*time.Millisecond+400*time.Microsecond).add("name", "POST /rp/v1/factor").add("empty", "").add("q", `a"b=c`)
	s := l.String()
	want := `flow=loop concurrency=16 orders_per_s=390 p50_ms=35.4 name="POST /rp/v1/factor" empty="" q="a\"b=c"`
	if s != want {
		t.Fatalf("got  %s\nwant %s", s, want)
	}
	kv, err := parseLine(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kv, l.kv) {
		t.Fatalf("parsed %q, want %q", kv, l.kv)
	}
	for _, bad := range []string{"novalue", `k="open`, `k="a"b`, "=v"} {
		if _, err := parseLine(bad); err == nil {
			t.Errorf("parseLine(%q) accepted", bad)
		}
	}
}

func TestFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{1234 * time.Microsecond: "1.23", 12345 * time.Microsecond: "12.3", 123456 * time.Microsecond: "123"} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %s, want %s", d, got, want)
		}
	}
	for v, want := range map[float64]string{1.234: "1.23", 12.34: "12.3", 1234.5: "1234"} {
		if got := rate(v); got != want {
			t.Errorf("rate(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts("1000, 100k,2m")
	if err != nil || !reflect.DeepEqual(got, []int{1000, 100_000, 2_000_000}) {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := parseCounts(""); got != nil || err != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"0", "-5", "x", "100,10", "5,5", "1k,"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) accepted", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"--flow", "auth-otp", "--addr", "https://a:1", "--addr", "https://b:2", "--concurrency", "64", "--rss-at", "1k,100k"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.addrs) != 2 || o.concurrency != 64 || !reflect.DeepEqual(o.rssAt, []int{1000, 100000}) {
		t.Fatalf("%+v", o)
	}
	if b, _ := o.bounds(); !reflect.DeepEqual(b, []string{"argon2id"}) {
		t.Fatalf("auto bound of auth-otp: %v", b)
	}
	o, _ = parseFlags([]string{"--flow", "app"}, &stderr)
	if b, _ := o.bounds(); b != nil {
		t.Fatalf("auto bound of app: %v", b)
	}
	o, _ = parseFlags([]string{"--bound", "argon2id,store"}, &stderr)
	if b, _ := o.bounds(); o.flow != "none" || !reflect.DeepEqual(b, []string{"argon2id", "store"}) {
		t.Fatalf("bounds alone: %s %v", o.flow, b)
	}
	for _, bad := range [][]string{{"--flow", "nope"}, {"--concurrency", "0"}, {"--bound", "cpu"}, {"--duration", "0s"}, {"stray"}} {
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestReadEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	os.WriteFile(p, []byte("# made by segld dev: . /x/env\nexport SEGL_ADDR='https://127.0.0.1:8443'\nexport SEGL_CA='/a b/it'\\''s/ca.pem'\nexport SEGL_OPS_ADDR=''\n"), 0o600)
	env, err := readEnv(p)
	if err != nil {
		t.Fatal(err)
	}
	if env["SEGL_ADDR"] != "https://127.0.0.1:8443" || env["SEGL_CA"] != "/a b/it's/ca.pem" || env["SEGL_OPS_ADDR"] != "" || len(env) != 3 {
		t.Fatalf("%q", env)
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tsegld\nVmPeak:\t 2000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   80000 kB\nThreads:\t12\n"
	rss, hwm, err := parseStatus(bufio.NewScanner(strings.NewReader(status)))
	if err != nil || rss != 80000 || hwm != 81234 {
		t.Fatalf("%d %d %v", rss, hwm, err)
	}
	if _, _, err := parseStatus(bufio.NewScanner(strings.NewReader("Name:\tx\n"))); err == nil {
		t.Fatal("a status without VmRSS was read")
	}
	rss, _, err = procStatus(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("this process: %d %v", rss, err)
	}
}

func TestListeningInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0
   1: 0100007F:20FB 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4712 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:20FC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4713 1 0000000000000000 100 0 0 10 0
`
	if got := listeningInodes(table, 8443); !reflect.DeepEqual(got, []string{"4711"}) {
		t.Fatalf("port 8443 (0x20FB): %v", got)
	}
	if got := listeningInodes(table, 1); got != nil {
		t.Fatalf("port 1: %v", got)
	}
}

func TestMetricsDelta(t *testing.T) {
	a, b := &scrape{}, &scrape{}
	parseMetrics(`# HELP segl_http_request_seconds request latency
segl_http_request_seconds_bucket{route="POST /rp/v1/factor",le="0.1"} 3
segl_http_request_seconds_sum{route="POST /rp/v1/factor"} 1.5
segl_http_request_seconds_count{route="POST /rp/v1/factor"} 10
segl_hsm_operation_seconds_sum{op="issuer_sign"} 0.01
segl_hsm_operation_seconds_count{op="issuer_sign"} 5
go_goroutines 12
process_cpu_seconds_total 10.5
`, a)
	// Two daemons' scrapes add up.
	for range 2 {
		parseMetrics(`segl_http_request_seconds_sum{route="POST /rp/v1/factor"} 3.5
segl_http_request_seconds_count{route="POST /rp/v1/factor"} 20
segl_http_request_seconds_sum{route="POST /rp/v1/auth"} 0.2
segl_http_request_seconds_count{route="POST /rp/v1/auth"} 4
segl_hsm_operation_seconds_sum{op="issuer_sign"} 0.01
segl_hsm_operation_seconds_count{op="issuer_sign"} 5
segl_http_request_seconds_sum{route="GET /metrics"} 0.01
segl_http_request_seconds_count{route="GET /metrics"} 1
process_cpu_seconds_total 12
`, b)
	}
	if a.cpu != 10.5 || b.cpu != 24 {
		t.Fatalf("cpu: %v %v", a.cpu, b.cpu)
	}
	got := delta(a, b)
	want := []timing{
		{kind: "http", name: "POST /rp/v1/factor", count: 30, seconds: 5.5},
		{kind: "http", name: "POST /rp/v1/auth", count: 8, seconds: 0.4},
		{kind: "hsm", name: "issuer_sign", count: 5, seconds: 0.01},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if v := labelValue(`route="a,b=\"c\"",le="0.5"`, "le"); v != "0.5" {
		t.Fatalf("labelValue: %q", v)
	}
}

// The batch the harness imports is one segld reads, and the codes it
// computes are RFC 4226's.
func TestPSKCAndHOTP(t *testing.T) {
	seed := []byte("12345678901234567890")
	batch, err := pskc.Parse(bytes.NewReader(pskcFile([]string{"LOAD-0000", "LOAD-0001"}, [][]byte{seed, seed})))
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Tokens) != 2 || batch.Tokens[1].Serial != "LOAD-0001" || batch.Tokens[0].Kind != otp.KindHOTP ||
		batch.Tokens[0].Digits != 6 || batch.Tokens[0].Counter != 0 || !bytes.Equal(batch.Tokens[0].Secret(), seed) {
		t.Fatalf("%+v", batch.Tokens[0])
	}
	for i, want := range []string{"755224", "287082", "359152", "969429"} {
		if got, err := otp.HOTP(hmacSeed(seed), otp.SHA1, uint64(i), 6); err != nil || got != want {
			t.Fatalf("counter %d: %s %v, want %s", i, got, err, want)
		}
	}
}

// testCA is an issuer CA and a user certificate under it, in a PEM file.
func testCA(t *testing.T) (string, *ecdsa.PrivateKey, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test issuer"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	userKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	uTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "karen"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	uDER, err := x509.CreateCertificate(rand.Reader, uTmpl, caCert, &userKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := x509.ParseCertificate(uDER)
	p := filepath.Join(t.TempDir(), "issuer-ca.pem")
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return p, caKey, user, userKey
}

func TestVerifyAssertion(t *testing.T) {
	path, caKey, _, userKey := testCA(t)
	v, err := newVerifier(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := claims{Issuer: "segl-dev", Subject: "karen", Audience: "dev-rp", IssuedAt: now.Unix(), Expires: now.Add(5 * time.Minute).Unix(),
		OrderRef: "o1", AMR: []string{"pwd", "otp"}}
	tok, err := jws.Sign(caKey, "kid", c)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.assertion(tok, "karen", "o1", now); err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func() error{
		"another user":  func() error { return v.assertion(tok, "bob", "o1", now) },
		"another order": func() error { return v.assertion(tok, "karen", "o2", now) },
		"expired":       func() error { return v.assertion(tok, "karen", "o1", now.Add(time.Hour)) },
		"another key": func() error {
			t2, _ := jws.Sign(userKey, "kid", c)
			return v.assertion(t2, "karen", "o1", now)
		},
		"one method": func() error {
			c1 := c
			c1.AMR = []string{"pwd"}
			t1, _ := jws.Sign(caKey, "kid", c1)
			return v.assertion(t1, "karen", "o1", now)
		},
		"not a JWS": func() error { return v.assertion("a.b", "karen", "o1", now) },
	} {
		if check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	path, _, user, userKey := testCA(t)
	v, err := newVerifier(path)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("the document"))
	der, err := cms.SignDetached(digest[:], userKey, []*x509.Certificate{user}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	comp := &completion{Signature: base64.StdEncoding.EncodeToString(der), CertificateChain: []string{base64.StdEncoding.EncodeToString(user.Raw)}}
	if err := v.signature(comp, digest[:]); err != nil {
		t.Fatal(err)
	}
	// Again, from the cache of verified certificates.
	if err := v.signature(comp, digest[:]); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("another document"))
	if v.signature(comp, other[:]) == nil {
		t.Error("a signature over another document's digest was accepted")
	}
	// A certificate that does not chain to the issuer.
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "mallory"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	selfDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &selfKey.PublicKey, selfKey)
	self, _ := x509.ParseCertificate(selfDER)
	der2, _ := cms.SignDetached(digest[:], selfKey, []*x509.Certificate{self}, time.Now())
	if v.signature(&completion{Signature: base64.StdEncoding.EncodeToString(der2), CertificateChain: []string{base64.StdEncoding.EncodeToString(selfDER)}}, digest[:]) == nil {
		t.Error("a certificate outside the issuer's was accepted")
	}
	// The right certificate, and a signature by another key.
	der3, _ := cms.SignDetached(digest[:], selfKey, []*x509.Certificate{self}, time.Now())
	if v.signature(&completion{Signature: base64.StdEncoding.EncodeToString(der3), CertificateChain: comp.CertificateChain}, digest[:]) == nil {
		t.Error("a signature by another key than the certificate's was accepted")
	}
	if v.signature(&completion{Signature: "AAAA", CertificateChain: comp.CertificateChain}, digest[:]) == nil {
		t.Error("garbage accepted as CMS")
	}
}
