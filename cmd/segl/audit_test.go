package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
)

// client is an mTLS client with one of the development certificates.
func client(t *testing.T, d *daemontest.Daemon, cert, key string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(d.Dev.TLSCA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS13}}}
}

func post(t *testing.T, c *http.Client, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// blockUser makes the records an attacker would like gone: five wrong
// passwords (factor.refused) and the block (user.blocked).
func blockUser(t *testing.T, d *daemontest.Daemon, user string) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("hemmeligt1\n"), 0o600)
	mustSegl(t, "users", "create", "--id", user, "--name", "Victim", "--password-file", pw)
	rp := client(t, d, d.Dev.RPCert, d.Dev.RPKey)
	var o struct{ OrderRef string }
	if code := post(t, rp, d.Addr+"/rp/v1/auth", map[string]string{"userId": user, "endUserIp": "192.0.2.1"}, &o); code != 200 {
		t.Fatalf("start: %d", code)
	}
	for range 5 {
		post(t, rp, d.Addr+"/rp/v1/factor", map[string]string{"orderRef": o.OrderRef, "type": "password", "value": "guess"}, nil)
	}
}

type row struct {
	seq                                     uint64
	time                                    int64
	event, actor, subject, outcome, details string
}

// forger is someone who can write the database but not use the HSM: the
// triggers are no obstacle, and the chain's algorithm is public.
type forger struct {
	t  *testing.T
	db *sql.DB
}

func newForger(t *testing.T, path string) *forger {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &forger{t, db}
	f.exec(`DROP TRIGGER audit_no_update`)
	f.exec(`DROP TRIGGER audit_no_delete`)
	return f
}

func (f *forger) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *forger) rows() []row {
	f.t.Helper()
	rs, err := f.db.Query(`SELECT seq, time, event, actor, subject, outcome, details FROM audit ORDER BY seq`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.seq, &r.time, &r.event, &r.actor, &r.subject, &r.outcome, &r.details); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (f *forger) seq(event string) uint64 {
	f.t.Helper()
	var s uint64
	if err := f.db.QueryRow(`SELECT MIN(seq) FROM audit WHERE event = ?`, event).Scan(&s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// rewrite replaces the log with rows, numbered from 1 and chained anew.
func (f *forger) rewrite(rows []row) {
	f.t.Helper()
	f.exec(`DELETE FROM audit`)
	var prev audit.Hash
	for i, r := range rows {
		rec := audit.Record{Seq: uint64(i + 1), Time: time.Unix(0, r.time).UTC(), Event: r.event, Actor: r.actor, Subject: r.subject, Outcome: r.outcome}
		if err := json.Unmarshal([]byte(r.details), &rec.Details); err != nil {
			f.t.Fatal(err)
		}
		if len(rec.Details) == 0 {
			rec.Details = nil
		}
		h, err := audit.Next(prev, rec)
		if err != nil {
			f.t.Fatal(err)
		}
		f.exec(`INSERT INTO audit (seq, time, event, actor, subject, outcome, details, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.Seq, r.time, r.event, r.actor, r.subject, r.outcome, r.details, h[:])
		prev = h
	}
}

func (f *forger) checkpoints() int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow(`SELECT COUNT(*) FROM audit_checkpoints`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// The three forgeries of issue 9, made with the daemon stopped: each
// holds together in the database alone, and each is caught against the
// HSM's last checkpoint by `segl audit verify` and by segld, which then
// signs nothing.
func TestAuditForgeries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		forge func(f *forger)
		want  string
	}{
		{"truncated, later checkpoints deleted", func(f *forger) {
			cut := f.seq("user.blocked") - 1
			f.exec(`DELETE FROM audit WHERE seq > ?`, cut)
			f.exec(`DELETE FROM audit_checkpoints WHERE seq > ?`, cut)
		}, "were removed"},
		{"a record edited, the chain recomputed, checkpoints from there deleted", func(f *forger) {
			at := f.seq("factor.refused")
			rows := f.rows()
			rows[at-1].details = strings.Replace(rows[at-1].details, `"failures":"1"`, `"failures":"0"`, 1)
			f.rewrite(rows)
			f.exec(`DELETE FROM audit_checkpoints WHERE seq >= ?`, at)
		}, "is not what the HSM's last checkpoint sealed"},
		{"refusals and blocks deleted, renumbered, all checkpoints deleted", func(f *forger) {
			var kept []row
			for _, r := range f.rows() {
				if r.event != "factor.refused" && r.event != "user.blocked" {
					kept = append(kept, r)
				}
			}
			f.rewrite(kept)
			f.exec(`DELETE FROM audit_checkpoints`)
		}, "were removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := daemontest.Start(t)
			useDaemon(t, d)
			blockUser(t, d, "victim")
			mustSegl(t, "users", "create", "--id", "later", "--name", "Later")
			if out := mustSegl(t, "audit", "verify"); !strings.Contains(out, "audit chain ok") {
				t.Fatal(out)
			}
			// SIGTERM seals what was written before it.
			if err := d.Stop(); err != nil {
				t.Fatal(err)
			}
			anchor := hsmCheckpoint(t, d)
			f := newForger(t, d.Dev.Database)
			if rows := f.rows(); anchor.Seq != uint64(len(rows)) {
				t.Fatalf("after a graceful stop the HSM's checkpoint seals record %d of %d", anchor.Seq, len(rows))
			}
			tc.forge(f)
			before := f.checkpoints()
			end := len(f.rows())

			d = d.Restart(t)
			useDaemon(t, d)
			off := client(t, d, d.Dev.Cert, d.Dev.Key)
			if code, body := get(t, off, d.Addr+"/readyz"); code != 503 || !strings.Contains(body, "audit log broken at record") {
				t.Fatalf("/readyz over a forged log: %d %s", code, body)
			}
			if _, metrics := get(t, off, d.Addr+"/metrics"); !strings.Contains(metrics, "segl_audit_chain_broken 1") {
				t.Fatal("segl_audit_chain_broken is not 1")
			}
			if !strings.Contains(d.Logs.String(), `"level":"ERROR","msg":"audit log broken`) {
				t.Fatalf("no ERROR in the log:\n%s", d.Logs.String())
			}
			// segld names where the log now ends, as verify does.
			if says := fmt.Sprintf("the log ends at record %d, but", end); tc.want == "were removed" && !strings.Contains(d.Logs.String(), says) {
				t.Fatalf("segld does not say %q:\n%s", says, d.Logs.String())
			}
			_, errOut, code := segl(t, "audit", "verify")
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("segl audit verify: exit %d: %s", code, errOut)
			}
			// New records come, and still nothing is signed over the
			// forgery: not in the database, not in the HSM.
			mustSegl(t, "users", "create", "--id", "after", "--name", "After")
			if n, err := d.Seal(t.Context(), true); err == nil || n != 0 {
				t.Fatalf("segld sealed %d checkpoints over the forged log (%v)", n, err)
			}
			if after := f.checkpoints(); after != before {
				t.Fatalf("checkpoints went from %d to %d over the forged log", before, after)
			}
			if now := hsmCheckpoint(t, d); now.Seq != anchor.Seq || now.Hash != anchor.Hash {
				t.Fatalf("the HSM's checkpoint moved from %d to %d", anchor.Seq, now.Seq)
			}
		})
	}
}

func hsmCheckpoint(t *testing.T, d *daemontest.Daemon) audit.Checkpoint {
	t.Helper()
	b, err := d.Keystore().Data("audit-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	c, err := audit.ParseCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Checkpoints every 5 records, also in a file: verify holds the database
// to the cadence and to the file, and names a checkpoint deleted from the
// database either way.
func TestAuditCadenceAndCheckpointFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	d := daemontest.StartWith(t, daemontest.Options{Config: func(c *config.Config) {
		c.Audit.CheckpointEvery, c.Audit.CheckpointFile = 5, file
	}})
	useDaemon(t, d)
	mustSegl(t, "users", "create", "--id", "alice", "--name", "Alice")
	for range 10 {
		mustSegl(t, "users", "disable", "--id", "alice")
		mustSegl(t, "users", "enable", "--id", "alice")
	}
	if _, err := d.Seal(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	out := mustSegl(t, "audit", "verify", "--checkpoints", file)
	for _, want := range []string{"audit chain ok: 23 records, 5 checkpoints", "checkpoints.jsonl: 5 checkpoints", "every 5 records", "record 23, is in the chain"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify printed %q, missing %q", out, want)
		}
	}
	if logs := d.Logs.String(); strings.Count(logs, `"msg":"audit checkpoint"`) != 5 {
		t.Fatalf("the log does not carry the 5 checkpoints:\n%s", logs)
	}
	f := newForger(t, d.Dev.Database)
	f.exec(`DELETE FROM audit_checkpoints WHERE seq = 10`)
	if _, errOut, code := segl(t, "audit", "verify"); code != 1 || !strings.Contains(errOut, "records 6 to 10") {
		t.Fatalf("a deleted checkpoint, by the cadence: %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "audit", "verify", "--checkpoints", file, "--checkpoint-every", "100"); code != 1 ||
		!strings.Contains(errOut, "checkpoint 10 of "+file+" is missing from the database") {
		t.Fatalf("a deleted checkpoint, by the file: %d %s", code, errOut)
	}
	// Without the HSM (an auditor with the public key only), the file
	// still shows records removed from the end (checkpoint 10 put back
	// first, from the file).
	cps, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := audit.ReadCheckpoints(bytes.NewReader(cps))
	if err != nil || kept[1].Seq != 10 {
		t.Fatalf("%v %v", kept, err)
	}
	f.exec(`INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)`, 10, kept[1].Hash[:], kept[1].Time.UnixNano(), kept[1].Signature)
	f.exec(`DELETE FROM audit WHERE seq > 12`)
	f.exec(`DELETE FROM audit_checkpoints WHERE seq > 12`)
	pub := filepath.Join(t.TempDir(), "audit.pem")
	os.WriteFile(pub, []byte(mustSegl(t, "keys", "public", "--label", "audit")), 0o644)
	if out := mustSegl(t, "audit", "verify", "--public-key", pub, "--checkpoint-every", "100"); !strings.Contains(out, "not read (--public-key)") {
		t.Fatalf("truncated, the public key alone does not see it, and says so: %s", out)
	}
	if _, errOut, code := segl(t, "audit", "verify", "--public-key", pub, "--checkpoints", file); code != 1 || !strings.Contains(errOut, "the log ends at record 12") {
		t.Fatalf("truncated, with the file: %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "audit", "verify", "--checkpoints", filepath.Join(t.TempDir(), "none")); code == 0 || !strings.Contains(errOut, "none") {
		t.Fatalf("a missing file: %d %s", code, errOut)
	}
}

// The first seal with an HSM that holds no checkpoint yet (an
// installation from before) checks the whole chain and adopts it.
func TestAuditCheckpointAdopted(t *testing.T) {
	d := daemontest.Start(t)
	useDaemon(t, d)
	mustSegl(t, "users", "create", "--id", "alice", "--name", "Alice")
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Keystore().DeleteData("audit-checkpoint"); err != nil {
		t.Fatal(err)
	}
	d = d.Restart(t)
	useDaemon(t, d)
	mustSegl(t, "users", "create", "--id", "bob", "--name", "Bob")
	if _, err := d.Seal(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if out := mustSegl(t, "audit", "verify"); !strings.Contains(out, "is in the chain") {
		t.Fatal(out)
	}
	if c := hsmCheckpoint(t, d); strconv.FormatUint(c.Seq, 10) == "0" {
		t.Fatal("no checkpoint in the HSM")
	}
}
