package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
)

// loadWorker logs one user in again and again, password and code card,
// through whichever daemon answers (as a load balancer retries on
// another), sending each code-card code to two daemons at once. It
// records what it was told: the entries accepted and the assertions
// received.
type loadWorker struct {
	c        *cluster
	name     string
	users    int // users made so far
	user     string
	password string
	codes    map[string]string // key number → code
	rps      []*http.Client    // one per daemon
	offs     []*http.Client    // the officer's, one per daemon

	mu         sync.Mutex
	accepted   map[string]int    // user/key number → acceptances seen
	assertions map[string]string // order ref → assertion received
	completed  int
}

// post sends body to path on daemon d as the relying party, and on the
// next daemons when d does not answer (killed); it reports false when
// none did.
func (w *loadWorker) post(d int, path string, body any, out any) (int, bool) {
	return w.send(w.rps, d, path, body, out)
}

func (w *loadWorker) send(clients []*http.Client, d int, path string, body any, out any) (int, bool) {
	for try := range len(clients) {
		i := (d + try) % len(clients)
		req, _ := http.NewRequest("POST", w.c.addr(i)+path, strings.NewReader(string(js(body))))
		req.Header.Set("Content-Type", "application/json")
		resp, err := clients[i].Do(req)
		if err != nil {
			continue
		}
		code := resp.StatusCode
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		resp.Body.Close()
		if code >= 500 { // the daemon was going down: ask another
			continue
		}
		return code, true
	}
	return 0, false
}

// enrol makes the worker a new user with a new code card: at the start,
// when a start's answer was lost (its order, unknown to the worker, stays
// pending until it expires), and when the card runs out.
func (w *loadWorker) enrol() bool {
	w.users++
	user := fmt.Sprintf("%s-%d", w.name, w.users)
	password := "hemmeligt-" + user
	code, ok := w.send(w.offs, w.users, "/admin/v1/users", map[string]string{"id": user, "name": user, "password": password}, nil)
	if !ok || (code != 201 && code != 409) {
		return false
	}
	var card struct {
		Entries []struct{ Key, Code string }
	}
	if code, ok := w.send(w.offs, w.users, "/admin/v1/codecards", map[string]string{"userId": user}, &card); !ok || code != 201 {
		return false
	}
	w.user, w.password, w.codes = user, password, map[string]string{}
	for _, e := range card.Entries {
		w.codes[e.Key] = e.Code
	}
	return true
}

func (w *loadWorker) run(stop <-chan struct{}) {
	for fresh := w.enrol(); ; {
		select {
		case <-stop:
			return
		default:
		}
		if !fresh {
			fresh = w.enrol()
			continue
		}
		d := rand.IntN(len(w.rps))
		var o answer
		code, ok := w.post(d, "/rp/v1/auth", map[string]string{"userId": w.user, "endUserIp": "192.0.2.1"}, &o)
		if !ok || code != 200 {
			fresh = false
			continue
		}
		if !w.login(o.OrderRef, d) {
			fresh = false
		}
		w.post(d+1, "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
	}
}

// login answers the order's code card and password and collects the
// assertion; false when the user needs a new card.
func (w *loadWorker) login(ref string, d int) bool {
	var ch struct{ KeyNumber string }
	if code, ok := w.post(d, "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "codecard"}, &ch); !ok || code != 200 {
		return code == 0
	}
	key := w.user + "/" + ch.KeyNumber
	body := map[string]string{"orderRef": ref, "type": "codecard", "value": w.codes[ch.KeyNumber]}
	var wg sync.WaitGroup
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a answer
			if code, ok := w.post(d+k, "/rp/v1/factor", body, &a); ok && code == 200 && a.Accepted {
				w.mu.Lock()
				w.accepted[key]++
				w.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var done answer
	if code, ok := w.post(d+2, "/rp/v1/factor", map[string]string{"orderRef": ref, "type": "password", "value": w.password}, &done); !ok || code != 200 ||
		done.Status != "complete" {
		return true
	}
	var col struct {
		Status         string
		CompletionData struct{ Assertion string }
	}
	if code, ok := w.post(d, "/rp/v1/collect", map[string]string{"orderRef": ref}, &col); ok && code == 200 && col.Status == "complete" {
		w.mu.Lock()
		w.assertions[ref] = col.CompletionData.Assertion
		w.completed++
		w.mu.Unlock()
	}
	return true
}

// killUnderLoad runs workers users logging in over the cluster while one
// daemon after another is killed with SIGKILL, kills times, and restarted.
// Then: no code-card entry was accepted twice, every assertion a client
// received has its audit record, and the chain verifies.
func killUnderLoad(t *testing.T, c *cluster, workers, kills int) {
	var ws []*loadWorker
	for i := range workers {
		w := &loadWorker{c: c, name: fmt.Sprintf("w%d", i), accepted: map[string]int{}, assertions: map[string]string{}}
		for range c.addrs {
			w.rps = append(w.rps, mtlsClient(t, c.e.TLSCA, c.e.RPCert, c.e.RPKey))
			w.offs = append(w.offs, mtlsClient(t, c.e.TLSCA, c.e.Cert, c.e.Key))
		}
		for _, cl := range append(w.rps, w.offs...) {
			cl.Timeout = 10 * time.Second
		}
		ws = append(ws, w)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop) }()
	}
	total := func() int {
		n := 0
		for _, w := range ws {
			w.mu.Lock()
			n += w.completed
			w.mu.Unlock()
		}
		return n
	}
	// progress waits until logins have completed since done: the
	// daemons left keep serving.
	progress := func(done int, what string) {
		deadline := time.Now().Add(60 * time.Second)
		for total() <= done {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("no login completed for a minute %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	progress(0, "before the first kill")
	for k := range kills {
		done := total()
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		c.kill9(k % len(c.addrs))
		progress(done, fmt.Sprintf("after kill %d", k+1))
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	c.stopAll()

	completed := 0
	received := map[string]bool{}
	for _, w := range ws {
		completed += w.completed
		for key, n := range w.accepted {
			if n > 1 {
				t.Errorf("code-card entry %s accepted %d times", key, n)
			}
		}
		for ref := range w.assertions {
			received[ref] = true
		}
	}
	if completed == 0 {
		t.Fatal("no login completed under the kills: the load did not run")
	}
	// Every assertion a client received is in the audit log.
	db := openStore(t, c.e)
	defer db.Close()
	err := db.View(context.Background(), func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
			if s.Record.Event == audit.AssertionIssued {
				delete(received, strings.TrimPrefix(s.Record.Subject, "order:"))
			}
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(received) > 0 {
		t.Fatalf("%d assertions clients received have no audit record: %v", len(received), received)
	}
	checkAudit(t, c.e)
	t.Logf("%d kills, %d logins completed by %d workers; every assertion audited, no entry accepted twice, the chain verifies", kills, completed, workers)
}

// kill -9 of a daemon, a few times, under load: the others keep serving.
// make drill does it 100 times (TestDrillKill9).
func TestKill9UnderLoad(t *testing.T) {
	killUnderLoad(t, startCluster(t, 3), 6, 3)
}
