package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/store"
)

// TestMain doubles as segld itself when a test starts this binary with
// SEGLD_TEST_ARGS set (one argument a line): real processes, without
// a separate build step.
func TestMain(m *testing.M) {
	args := os.Getenv("SEGLD_TEST_ARGS")
	if args == "" {
		os.Exit(m.Run())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, append([]string{"segld"}, strings.Split(args, "\n")...), os.Stdout, os.Stderr))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startSegld runs segld in its own process until the test ends, or until
// the stop it returns (SIGTERM, and wait) is called.
func startSegld(t *testing.T, env []string, args ...string) (stop func()) {
	t.Helper()
	_, stop = startSegldProcess(t, env, args...)
	return stop
}

// startSegldProcess is startSegld, with the process.
func startSegldProcess(t *testing.T, env []string, args ...string) (_ *exec.Cmd, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "SEGLD_TEST_ARGS="+strings.Join(args, "\n"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("segld %v:\n%s", args, logs.String())
		}
	})
	return cmd, stop
}

func mtlsClient(t *testing.T, caFile, certFile, keyFile string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
	}}
}

func call(t *testing.T, c *http.Client, method, url, contentType string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func waitHealthy(t *testing.T, c *http.Client, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get(addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two segld processes on one database and one HSM token, 25 submissions of
// one valid OTP to each at once: exactly one is accepted, and the token's
// counter moved once.
func TestOneOTPTwoDaemons(t *testing.T) {
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	e, err := devenv.Setup(dir, devenv.Options{Listen: addrA})
	if err != nil {
		t.Fatal(err)
	}
	// The second daemon: the same config, another port.
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.yaml")
	if err := os.WriteFile(second, bytes.Replace(cfg, []byte("listen: "+addrA), []byte("listen: "+addrB), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SOFTHSM2_CONF=" + e.Token.Conf}
	stopA := startSegld(t, env, "dev", "--dir", dir, "--listen", addrA)
	off := mtlsClient(t, e.TLSCA, e.Cert, e.Key)
	rp := mtlsClient(t, e.TLSCA, e.RPCert, e.RPKey)
	a, b := "https://"+addrA, "https://"+addrB
	waitHealthy(t, off, a) // the first has registered the dev RP before the second starts
	stopB := startSegld(t, env, "--config", second)
	waitHealthy(t, off, b)

	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	if code := call(t, off, "POST", a+"/admin/v1/users", "application/json", js(map[string]string{"id": "ida", "name": "Ida", "password": "hemmeligt1"}), nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	pskc, err := os.ReadFile("../../testvectors/pskc/rfc6030-figure2.pskc")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, off, "POST", b+"/admin/v1/tokens", "application/pskc+xml", pskc, nil); code != 201 {
		t.Fatalf("import: %d", code)
	}
	if code := call(t, off, "POST", a+"/admin/v1/tokens/987654321", "application/json", js(map[string]string{"action": "assign", "userId": "ida"}), nil); code != 200 {
		t.Fatalf("assign: %d", code)
	}
	var order struct{ OrderRef string }
	if code := call(t, rp, "POST", b+"/rp/v1/auth", "application/json", js(map[string]string{"userId": "ida", "endUserIp": "192.0.2.1"}), &order); code != 200 {
		t.Fatalf("start: %d", code)
	}
	// RFC 4226's code for counter 0, 8 digits (figure 2's token).
	submit := js(map[string]string{"orderRef": order.OrderRef, "type": "otp", "value": "84755224"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	codes := map[string]int{}
	start := make(chan struct{})
	// Each submitter has its own connection, opened (TLS handshake and
	// all) before the start, so that the 50 requests arrive together and
	// many are past the order's own check when the first code is used:
	// those meet the token's conditional UPDATE.
	var ready sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			addr := a
			if i%2 == 1 {
				addr = b
			}
			rp := mtlsClient(t, e.TLSCA, e.RPCert, e.RPKey)
			if resp, err := rp.Get(addr + "/readyz"); err == nil {
				resp.Body.Close()
			}
			ready.Done()
			<-start
			// The losers are duplicates: 200, not accepted, the
			// order's state, whichever daemon and however late.
			var r struct {
				Accepted  bool
				Status    string
				ErrorCode string
			}
			if code := call(t, rp, "POST", addr+"/rp/v1/factor", "application/json", submit, &r); code != 200 || r.Status != "pending" {
				t.Errorf("factor: %d %+v", code, r)
			}
			mu.Lock()
			codes[r.ErrorCode]++
			mu.Unlock()
			if r.Accepted {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("%d of 50 submissions to two daemons accepted, want exactly 1", accepted)
	}
	if codes[""] != 50 {
		t.Fatalf("answers by error code: %v; every one must be the order's state", codes)
	}
	var tok struct{ Counter int64 }
	if code := call(t, off, "GET", a+"/admin/v1/tokens/987654321", "", nil, &tok); code != 200 || tok.Counter != 1 {
		t.Fatalf("token: %d %+v, want counter 1", code, tok)
	}
	// The losers counted nothing against the user: the order goes on
	// and completes with the password.
	var done struct {
		Accepted bool
		Status   string
	}
	pw := js(map[string]string{"orderRef": order.OrderRef, "type": "password", "value": "hemmeligt1"})
	if code := call(t, rp, "POST", b+"/rp/v1/factor", "application/json", pw, &done); code != 200 || done.Status != "complete" {
		t.Fatalf("the password after the race: %d %+v", code, done)
	}

	// Both seal one chain on the way out, A first, then B, with a record
	// of B's own in between: the HSM's checkpoint, which A writes and B
	// must find, seals the last record, and the whole log verifies.
	stopA()
	if code := call(t, off, "POST", b+"/admin/v1/users/ida/disable", "application/json", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	stopB()
	checkAudit(t, e)
}

// openStore opens the database of the development setup's config, as
// segld does: SQLite or PostgreSQL.
func openStore(t *testing.T, e *devenv.Env) store.Store {
	t.Helper()
	cfg, err := config.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	db, err := daemon.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// checkAudit verifies the development setup's audit log, as `segl audit
// verify` does, against the HSM's last checkpoint, which must seal the
// last record.
func checkAudit(t *testing.T, e *devenv.Env) {
	t.Helper()
	ks, err := hsm.Open(e.Token.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	pub, err := ks.PublicKey("audit")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Data("audit-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := audit.ParseCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, e)
	defer db.Close()
	var rep audit.Report
	err = db.View(context.Background(), func(r store.Reader) error {
		var recs []audit.Stored
		if err := r.AuditRecords(1, func(s audit.Stored) (bool, error) { recs = append(recs, s); return true, nil }); err != nil {
			return err
		}
		cps, err := r.AuditCheckpoints()
		if err != nil {
			return err
		}
		rep, err = audit.Verify(audit.Records(recs), cps, pub, audit.Expect{Anchor: &anchor})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Broken != nil || rep.Anchored != rep.Records || rep.Unsealed != 0 {
		t.Fatalf("the audit log after two daemons stopped: %+v (broken: %v)", rep, rep.Broken)
	}
}
