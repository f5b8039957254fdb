package daemon_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segl/segl/signer/app"
	appclient "github.com/segl/segl/signer/app/client"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/store"
)

// BenchmarkAppApproval measures the app's login end to end over real
// sockets — the relying party starts an auth order, the phone's pending
// list shows it, the phone approves, the relying party collects — against
// the raw cost of what an approval must do, in the same run: one ECDSA
// verify of the approval and the order's store transaction (read the
// order and the user, spend the challenge, write the order and an audit
// record). The end-to-end variant reports its rate over the raw one
// (vs-raw). BenchmarkAppLongPoll reports the delay from an order's start
// to its answer in a waiting long poll (p50, p99).
func BenchmarkAppApproval(b *testing.B) {
	w := benchApp(b)
	ctx := context.Background()
	var raw float64
	b.Run("raw", func(b *testing.B) {
		o := w.order(b)
		item, err := w.cl.Find(ctx, w.dev, o)
		if err != nil {
			b.Fatal(err)
		}
		req, err := appclient.Decision(w.dev, item, app.DecisionApprove, app.VerifyPIN)
		if err != nil {
			b.Fatal(err)
		}
		ap, _ := appclient.ApprovalFor(item, app.DecisionApprove, app.VerifyPIN)
		msg := app.ApprovalMessage(ap)
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			if err := app.Verify(&w.dev.Key.PublicKey, msg, req.Signature); err != nil {
				b.Fatal(err)
			}
			next := strconv.Itoa(i)
			err := w.d.Store().Update(ctx, func(tx store.Tx) error {
				ord, err := tx.Order(o)
				if err != nil {
					return err
				}
				if _, err := tx.User(ord.User); err != nil {
					return err
				}
				if _, err := tx.SwapAppChallenge(o, ord.AppChallenge, next); err != nil {
					return err
				}
				if err := tx.UpdateOrder(ord); err != nil {
					return err
				}
				_, err = tx.Audit(audit.Record{Time: time.Now(), Event: audit.FactorAccepted, Actor: "bench", Subject: "order:" + o, Outcome: "ok"})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		raw = float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(raw, "ops/s")
		w.cancel(b, o)
	})
	b.Run("end-to-end", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			o := w.order(b)
			item, err := w.cl.Find(ctx, w.dev, o)
			if err != nil {
				b.Fatal(err)
			}
			if d, err := w.cl.Decide(ctx, w.dev, item, app.DecisionApprove, app.VerifyPIN); err != nil || d.Status != "complete" {
				b.Fatalf("approve: %+v %v", d, err)
			}
			if c := w.collect(b, o); c != "complete" {
				b.Fatalf("collect: %s", c)
			}
		}
		rate := float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(rate, "ops/s")
		if raw > 0 {
			b.ReportMetric(rate/raw, "vs-raw")
		}
	})
}

func BenchmarkAppLongPoll(b *testing.B) {
	w := benchApp(b)
	ctx := context.Background()
	var delays []time.Duration
	for b.Loop() {
		got := make(chan time.Time, 1)
		go func() {
			list, err := w.cl.Pending(ctx, w.dev, app.MaxWait)
			if err != nil || len(list) == 0 {
				got <- time.Time{}
				return
			}
			got <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond) // the poll is waiting; if not, it finds the order at once
		t0 := time.Now()
		o := w.order(b)
		at := <-got
		if at.IsZero() {
			b.Fatal("the long poll answered without the order")
		}
		delays = append(delays, at.Sub(t0))
		w.cancel(b, o)
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
}

type benchWorld struct {
	d   *daemontest.Daemon
	rp  *http.Client
	cl  *appclient.Client
	dev *appclient.Device
}

func benchApp(b *testing.B) *benchWorld {
	b.Helper()
	d := daemontest.StartWith(b, daemontest.Options{Factors: []factors.Factor{testFactor{}}})
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(d.Dev.TLSCA)
	pool.AppendCertsFromPEM(ca)
	off, rp := benchClient(b, pool, d.Dev.Cert, d.Dev.Key), benchClient(b, pool, d.Dev.RPCert, d.Dev.RPKey)
	w := &benchWorld{d: d, rp: rp, cl: appclient.New(d.AppAddr, pool)}
	post := func(c *http.Client, path string, body, out any) {
		j, _ := json.Marshal(body)
		resp, err := c.Post(d.Addr+path, "application/json", bytes.NewReader(j))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		if out != nil {
			json.Unmarshal(raw, out)
		}
	}
	post(off, "/admin/v1/users", map[string]string{"id": "karen", "name": "Karen", "password": "hemmeligt1"}, nil)
	var card issuedCard
	post(off, "/admin/v1/codecards", map[string]string{"userId": "karen"}, &card)
	ctx := context.Background()
	ch, err := w.cl.StartActivation(ctx, "karen")
	if err != nil {
		b.Fatal(err)
	}
	if w.dev, err = w.cl.CompleteActivation(ctx, appclient.Activation{ID: ch.ActivationID, Password: "hemmeligt1", CardCode: card.code(ch.KeyNumber), DeviceName: "bench"}); err != nil {
		b.Fatal(err)
	}
	return w
}

func benchClient(b *testing.B, pool *x509.CertPool, cert, key string) *http.Client {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		b.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS13}}}
}

func (w *benchWorld) rpPost(b *testing.B, path string, body, out any) {
	j, _ := json.Marshal(body)
	resp, err := w.rp.Post(w.d.Addr+path, "application/json", bytes.NewReader(j))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
	}
	if out != nil {
		json.Unmarshal(raw, out)
	}
}

func (w *benchWorld) order(b *testing.B) string {
	var o struct{ OrderRef string }
	w.rpPost(b, "/rp/v1/auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1",
		"userVisibleData": base64.StdEncoding.EncodeToString([]byte("Log in to Segl Bank"))}, &o)
	return o.OrderRef
}

func (w *benchWorld) collect(b *testing.B, ref string) string {
	var c struct{ Status string }
	w.rpPost(b, "/rp/v1/collect", map[string]string{"orderRef": ref}, &c)
	return c.Status
}

func (w *benchWorld) cancel(b *testing.B, ref string) {
	w.rpPost(b, "/rp/v1/cancel", map[string]string{"orderRef": ref}, nil)
}
