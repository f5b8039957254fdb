package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/postgres/pgtest"
	"github.com/segl/segl/tokens/otp"
)

// cluster is several segld processes on one PostgreSQL database and one
// HSM token, as a bank runs them behind a load balancer.
type cluster struct {
	t     *testing.T
	e     *devenv.Env
	env   []string
	addrs []string // https://host:port of each daemon
	stops []func()
	procs []*exec.Cmd
	off   *http.Client
}

// startCluster starts n segld on a new PostgreSQL cluster: the first makes
// the development setup on it (segld dev --database), the others share
// its config with --listen.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	url := pgtest.Start(t)
	dir := t.TempDir()
	c := &cluster{t: t}
	for range n {
		c.addrs = append(c.addrs, freeAddr(t))
	}
	var err error
	if c.e, err = devenv.Setup(dir, devenv.Options{Listen: c.addrs[0], Database: url}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", c.e.Token.Conf) // as Setup set it, restored when the test ends
	c.env = []string{"SOFTHSM2_CONF=" + c.e.Token.Conf}
	c.off = mtlsClient(t, c.e.TLSCA, c.e.Cert, c.e.Key)
	c.start(0, "dev", "--dir", dir, "--listen", c.addrs[0], "--ops-listen", "", "--app-listen", "", "--database", url)
	c.addrs[0] = "https://" + c.addrs[0]
	waitHealthy(t, c.off, c.addrs[0]) // the first has registered the dev RP and officer before the others start
	for i := 1; i < n; i++ {
		c.start(i, "--config", c.e.Config, "--listen", c.addrs[i])
		c.addrs[i] = "https://" + c.addrs[i]
	}
	for _, a := range c.addrs[1:] {
		waitHealthy(t, c.off, a)
	}
	return c
}

// start runs daemon i with args.
func (c *cluster) start(i int, args ...string) {
	cmd, stop := startSegldProcess(c.t, c.env, args...)
	if i == len(c.procs) {
		c.procs, c.stops = append(c.procs, cmd), append(c.stops, stop)
	} else {
		c.procs[i], c.stops[i] = cmd, stop
	}
}

// kill9 kills daemon i as the kernel's OOM killer or a power cut would
// (SIGKILL: no shutdown, no seal), and starts it again on its address.
func (c *cluster) kill9(i int) {
	c.procs[i].Process.Kill()
	c.procs[i].Wait()
	c.start(i, "--config", c.e.Config, "--listen", strings.TrimPrefix(c.addrs[i], "https://"))
	waitHealthy(c.t, c.off, c.addrs[i])
}

// stopAll stops every daemon as SIGTERM does: each seals the chain.
func (c *cluster) stopAll() {
	for _, stop := range c.stops {
		stop()
	}
}

func js(v any) []byte { b, _ := json.Marshal(v); return b }

// clients are n relying-party connections, each opened (TLS handshake and
// all) to daemon i%len(addrs) before the race that uses them.
func (c *cluster) clients(n int) []*http.Client {
	cs := make([]*http.Client, n)
	for i := range cs {
		cs[i] = mtlsClient(c.t, c.e.TLSCA, c.e.RPCert, c.e.RPKey)
		if resp, err := cs[i].Get(c.addr(i) + "/readyz"); err == nil {
			resp.Body.Close()
		}
	}
	return cs
}

func (c *cluster) addr(i int) string { return c.addrs[i%len(c.addrs)] }

// race sends body to path from every client at once, client i to daemon
// i%n, and returns the answers.
func (c *cluster) race(cs []*http.Client, path string, body []byte) []answer {
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]answer, len(cs))
	for i, cl := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", c.addr(i)+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := cl.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			out[i].code = resp.StatusCode
			json.NewDecoder(resp.Body).Decode(&out[i])
		}()
	}
	close(start)
	wg.Wait()
	return out
}

type answer struct {
	code      int
	err       error
	Accepted  bool
	Status    string
	ErrorCode string
	OrderRef  string
}

// failures is the user's failure count, as the store has it.
func (c *cluster) failures(user string) int {
	c.t.Helper()
	db := openStore(c.t, c.e)
	defer db.Close()
	var n int
	err := db.View(context.Background(), func(r store.Reader) error {
		u, err := r.User(user)
		if err == nil {
			n = u.Failures
		}
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// softHMAC is a test seed in memory, for computing the token's codes.
type softHMAC []byte

func (k softHMAC) Sum(h crypto.Hash, msg []byte) ([]byte, error) {
	m := hmac.New(h.New, k)
	m.Write(msg)
	return m.Sum(nil), nil
}

// otpRace: per round, a new order, and one valid HOTP code sent by
// racers clients at once, spread over the daemons: exactly one is
// accepted, and the others (duplicates) count nothing against the user.
func (c *cluster) otpRace(racers, rounds int) {
	t := c.t
	if code := call(t, c.off, "POST", c.addr(0)+"/admin/v1/users", "application/json",
		js(map[string]string{"id": "ida", "name": "Ida", "password": "hemmeligt1"}), nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	pskc, err := os.ReadFile("../../testvectors/pskc/rfc6030-figure2.pskc")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, c.off, "POST", c.addr(1)+"/admin/v1/tokens", "application/pskc+xml", pskc, nil); code != 201 {
		t.Fatalf("import: %d", code)
	}
	if code := call(t, c.off, "POST", c.addr(2)+"/admin/v1/tokens/987654321", "application/json",
		js(map[string]string{"action": "assign", "userId": "ida"}), nil); code != 200 {
		t.Fatalf("assign: %d", code)
	}
	seed, _ := hex.DecodeString("3132333435363738393031323334353637383930") // RFC 6030 figure 2's
	cs := c.clients(racers)
	rp := cs[0]
	for round := range rounds {
		var o answer
		if code := call(t, rp, "POST", c.addr(round)+"/rp/v1/auth", "application/json",
			js(map[string]string{"userId": "ida", "endUserIp": "192.0.2.1"}), &o); code != 200 {
			t.Fatalf("round %d: start: %d", round, code)
		}
		value, err := otp.HOTP(softHMAC(seed), otp.SHA1, uint64(round), 8)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for i, a := range c.race(cs, "/rp/v1/factor", js(map[string]string{"orderRef": o.OrderRef, "type": "otp", "value": value})) {
			switch {
			case a.err != nil || a.code != 200 || a.Status != "pending" || a.ErrorCode != "":
				t.Fatalf("round %d, racer %d (daemon %d): %d %+v %v", round, i, i%len(c.addrs), a.code, a, a.err)
			case a.Accepted:
				accepted++
			}
		}
		if accepted != 1 {
			t.Fatalf("round %d: %d of %d submissions of one code to %d daemons accepted, want exactly 1", round, accepted, racers, len(c.addrs))
		}
		if code := call(t, rp, "POST", c.addr(round+1)+"/rp/v1/cancel", "application/json", js(map[string]string{"orderRef": o.OrderRef}), nil); code != 200 {
			t.Fatalf("round %d: cancel: %d", round, code)
		}
	}
	if n := c.failures("ida"); n != 0 {
		t.Fatalf("the duplicates counted %d failures against the user", n)
	}
}

// TestThreeDaemonsOnePostgres: three segld on one PostgreSQL database keep
// every single-use rule across processes, and their one audit chain
// verifies after they stop. make drill runs the OTP race 1,000 times.
func TestThreeDaemonsOnePostgres(t *testing.T) {
	c := startCluster(t, 3)
	c.otpRace(256, 3)

	// 200 starts for one user at once: one pending order, the others
	// alreadyInProgress.
	if code := call(t, c.off, "POST", c.addr(0)+"/admin/v1/users", "application/json",
		js(map[string]string{"id": "bo", "name": "Bo", "password": "hemmeligt2"}), nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	cs := c.clients(200)
	started, busy := 0, 0
	var ref string
	for i, a := range c.race(cs, "/rp/v1/auth", js(map[string]string{"userId": "bo", "endUserIp": "192.0.2.1"})) {
		switch {
		case a.code == 200:
			started++
			ref = a.OrderRef
		case a.code == 409 && a.ErrorCode == "alreadyInProgress":
			busy++
		default:
			t.Fatalf("start %d: %d %+v %v", i, a.code, a, a.err)
		}
	}
	if started != 1 || busy != 199 {
		t.Fatalf("200 concurrent starts for one user: %d started, %d alreadyInProgress", started, busy)
	}

	// One code-card entry answered from 100 connections at once: spent
	// once, and the order goes on to complete with the password.
	var card struct {
		Entries []struct{ Key, Code string }
	}
	if code := call(t, c.off, "POST", c.addr(1)+"/admin/v1/codecards", "application/json", js(map[string]string{"userId": "bo"}), &card); code != 201 {
		t.Fatalf("issue card: %d", code)
	}
	var ch struct{ KeyNumber string }
	if code := call(t, cs[0], "POST", c.addr(2)+"/rp/v1/challenge", "application/json",
		js(map[string]string{"orderRef": ref, "type": "codecard"}), &ch); code != 200 {
		t.Fatalf("challenge: %d", code)
	}
	var value string
	for _, e := range card.Entries {
		if e.Key == ch.KeyNumber {
			value = e.Code
		}
	}
	accepted := 0
	for i, a := range c.race(cs[:100], "/rp/v1/factor", js(map[string]string{"orderRef": ref, "type": "codecard", "value": value})) {
		if a.err != nil || a.code != 200 || a.Status != "pending" {
			t.Fatalf("code-card racer %d: %d %+v %v", i, a.code, a, a.err)
		}
		if a.Accepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of 100 answers with one code-card entry accepted, want 1", accepted)
	}
	var done answer
	if code := call(t, cs[0], "POST", c.addr(0)+"/rp/v1/factor", "application/json",
		js(map[string]string{"orderRef": ref, "type": "password", "value": "hemmeligt2"}), &done); code != 200 || done.Status != "complete" {
		t.Fatalf("the password after the race: %d %+v", code, done)
	}
	if n := c.failures("bo"); n != 0 {
		t.Fatalf("the code-card duplicates counted %d failures", n)
	}

	// They stop one by one, each sealing the one chain.
	c.stopAll()
	checkAudit(t, c.e)
}
