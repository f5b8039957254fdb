package outside_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/outside"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
)

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "segl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func records(t *testing.T, st store.Store) uint64 {
	t.Helper()
	var n uint64
	if err := st.View(context.Background(), func(r store.Reader) (err error) { n, _, err = r.AuditHead(); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

// The call is made with no transaction open — another writer gets in
// while it runs, which SQLite's one writer would not allow inside one —
// and once; the transaction runs again with its answer and commits once.
func TestCallOutsideTheTransaction(t *testing.T) {
	st := open(t)
	calls, runs := 0, 0
	var got string
	err := outside.Update(context.Background(), st, func(tx store.Tx, c *outside.Calls) error {
		runs++
		if _, err := tx.Audit(audit.Record{Time: time.Now(), Event: "test.signed", Actor: "system", Outcome: "ok"}); err != nil {
			return err
		}
		id := outside.Stable(c, "id", func() string { return fmt.Sprint(time.Now().UnixNano()) })
		v, err := outside.Do(c, "sign:"+id, func() (string, error) {
			calls++
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := st.Update(ctx, func(tx store.Tx) error {
				return tx.CreateUser(&store.User{ID: "between", Created: time.Now(), SigningKey: []byte{}, Certificate: []byte{}})
			}); err != nil {
				return "", fmt.Errorf("another writer could not write while the call ran: %w", err)
			}
			return "signature over " + id, nil
		})
		if err != nil {
			return err
		}
		got = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || runs != 2 || got == "" {
		t.Fatalf("%d calls, %d runs, answer %q", calls, runs, got)
	}
	// The rolled-back first run left nothing: one record of the
	// transaction, none of its first run.
	if n := records(t, st); n != 1 {
		t.Fatalf("%d audit records, want 1", n)
	}
}

// A transaction whose inputs change in every run gets no earlier answer;
// after Runs runs the call is made inside it rather than never.
func TestInputsThatKeepChanging(t *testing.T) {
	st := open(t)
	runs, calls := 0, 0
	err := outside.Update(context.Background(), st, func(tx store.Tx, c *outside.Calls) error {
		runs++
		_, err := outside.Do(c, fmt.Sprint("run ", runs), func() (int, error) { calls++; return runs, nil })
		return err
	})
	if err != nil || runs != outside.Runs || calls != outside.Runs {
		t.Fatalf("%d runs, %d calls, %v", runs, calls, err)
	}
}

// The call's error is the transaction's, and nothing is committed.
func TestCallFails(t *testing.T) {
	st := open(t)
	hsmDown := errors.New("the HSM is down")
	err := outside.Update(context.Background(), st, func(tx store.Tx, c *outside.Calls) error {
		if _, err := tx.Audit(audit.Record{Time: time.Now(), Event: "test.signed", Actor: "system", Outcome: "ok"}); err != nil {
			return err
		}
		_, err := outside.Do(c, "k", func() ([]byte, error) { return nil, hsmDown })
		return err
	})
	if !errors.Is(err, hsmDown) {
		t.Fatalf("Update: %v", err)
	}
	if n := records(t, st); n != 0 {
		t.Fatalf("%d audit records of a failed transaction", n)
	}
}
