package sqlite_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
)

func open(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "segl.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func appendRecords(t *testing.T, db *sqlite.DB, n int) {
	t.Helper()
	for i := range n {
		err := db.Update(context.Background(), func(tx store.Tx) error {
			_, err := tx.Audit(audit.Record{Time: time.Now(), Event: "order.started", Actor: "rp:bank", Subject: fmt.Sprintf("order:%d", i),
				Outcome: "ok", Details: map[string]string{"n": fmt.Sprint(i)}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, db *sqlite.DB, pub *ecdsa.PublicKey) audit.Report {
	t.Helper()
	var rep audit.Report
	err := db.View(context.Background(), func(r store.Reader) error {
		var recs []audit.Stored
		if err := r.AuditRecords(1, func(s audit.Stored) (bool, error) { recs = append(recs, s); return true, nil }); err != nil {
			return err
		}
		cps, err := r.AuditCheckpoints()
		if err != nil {
			return err
		}
		rep, err = audit.Verify(audit.Records(recs), cps, pub, audit.Expect{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// An edit made to the file (as someone with the database would) is caught
// at the record that was edited, and the database itself refuses edits.
func TestAuditTamperingIsCaught(t *testing.T) {
	db, path := open(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	appendRecords(t, db, 20)
	err := db.Update(context.Background(), func(tx store.Tx) error {
		seq, head, err := tx.AuditHead()
		if err != nil {
			return err
		}
		sig, err := audit.SignCheckpoint(key, seq, head)
		if err != nil {
			return err
		}
		return tx.AddCheckpoint(audit.Checkpoint{Seq: seq, Hash: head, Time: time.Now(), Signature: sig})
	})
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, db, 5)
	if rep := verify(t, db, &key.PublicKey); rep.Broken != nil || rep.Records != 25 || rep.LastCheckpoint != 20 || rep.Unsealed != 5 {
		t.Fatalf("intact chain: %+v", rep)
	}

	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit SET outcome = 'refused' WHERE seq = 7`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("the database let a record be edited: %v", err)
	}
	if _, err := raw.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit SET details = '{"n":"99"}' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, db, &key.PublicKey)
	if rep.Broken == nil || rep.Broken.Seq != 7 {
		t.Fatalf("an edited record 7 gave %+v", rep.Broken)
	}
	t.Log(rep.Broken)
}

func TestDurabilitySettings(t *testing.T) {
	_, path := open(t)
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	db2, err := sqlite.Open(path) // reopening applies no migration twice
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db2.SchemaVersion(context.Background()); err != nil || v != len(files) {
		t.Fatalf("schema version %d %v, want %d", v, err, len(files))
	}
}

// segld processes starting together on a new file: each applies what the
// others have not, none fails.
func TestConcurrentFirstOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "segl.db")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			db, err := sqlite.Open(path)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
