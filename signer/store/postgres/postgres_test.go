package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/postgres"
	"github.com/segl/segl/signer/store/postgres/pgtest"
	"github.com/segl/segl/signer/store/storetest"
)

// cluster is the URL of the throwaway cluster TestMain starts for this
// package's tests; each test makes its own database on it.
var cluster string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "segl-pg-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	url, stop, err := pgtest.StartDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = url
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// open opens a new, empty store on a database of its own.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t, cluster))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The store conformance suite, on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// The audit table refuses edits, deletions and truncation, whoever asks.
func TestAuditAppendOnly(t *testing.T) {
	url := pgtest.NewDatabase(t, cluster)
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Audit(audit.Record{Time: time.Now(), Event: "order.started", Actor: "rp:bank", Outcome: "ok"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{`UPDATE audit SET outcome = 'refused'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := conn.Exec(context.Background(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// Daemons starting together on a new database: one applies the
// migrations, the others find them applied; a database a newer segld
// migrated is refused.
func TestMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t, cluster)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("opening together: %v", err)
		}
	}
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if v, err := db.SchemaVersion(context.Background()); err != nil || v != len(files) || v == 0 {
		t.Fatalf("schema version %d %v, want %d", v, err, len(files))
	}
	db.Close()

	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(context.Background(), url); err == nil || !strings.Contains(err.Error(), "newer than this segld knows") {
		t.Fatalf("a newer schema: %v", err)
	}
}

// A URL that does not parse is refused without repeating it: it may hold
// a password.
func TestBadURL(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://segl:s3cret@[::1/segl")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a bad URL: %v", err)
	}
}
