// Package sqlstore is store.Tx written once in SQL that SQLite and
// PostgreSQL both run, so that the single-use rules (each a conditional
// UPDATE or a uniqueness constraint) exist in one copy whichever database
// holds them. The dialect packages (store/sqlite, store/postgres) open the
// database, apply their own migrations, begin the transactions and give
// this package a Querier over each.
//
// The SQL here is the common subset: `?` placeholders (`?NNN` to reuse
// one), which a PostgreSQL Querier renumbers to `$N`; TRUE and FALSE for
// booleans (SQLite stores them as 1 and 0); times as int64 nanoseconds
// since 1970 (0 for none); ON CONFLICT and RETURNING. A statement that
// may break a uniqueness constraint expects it to fail the whole
// transaction (PostgreSQL aborts it), or avoids the error with ON
// CONFLICT DO NOTHING when the transaction must go on.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/signer/store"
)

// The errors a Querier reports in the dialect's stead, for this package to
// test with errors.Is.
var (
	// ErrNoRows: QueryRow found no row.
	ErrNoRows = errors.New("sqlstore: no rows")
	// ErrUnique: a statement broke a UNIQUE or PRIMARY KEY constraint.
	ErrUnique = errors.New("sqlstore: unique constraint violated")
)

// Querier runs statements inside one transaction.
type Querier interface {
	// Exec runs a statement and says how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow's Scan reports ErrNoRows when there was no row.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a query's result, read row by row.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Row is QueryRow's result.
type Row interface {
	Scan(dest ...any) error
}

// NewReader is a store.Reader over q.
func NewReader(ctx context.Context, q Querier) store.Reader { return reader{q: q, ctx: ctx} }

// NewTx is a store.Tx over q, which must run in a write transaction that
// holds the audit chain's head for its whole length (the dialect's rule:
// SQLite's IMMEDIATE transaction, PostgreSQL's lock on the head row), so
// that Audit appends to the head it read and every read-then-write in it
// sees the latest committed state.
func NewTx(ctx context.Context, q Querier) store.Tx { return &txn{reader: reader{q: q, ctx: ctx}} }

type reader struct {
	q   Querier
	ctx context.Context
}

type txn struct {
	reader
	// head is the chain's head once this transaction has read or moved
	// it: no other writer can move it while the transaction lives, so a
	// transaction that appends several records reads it once.
	head *chainHead
}

var _ store.Tx = (*txn)(nil)

func notFound(err error, what string) error {
	if errors.Is(err, ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

func isUnique(err error) bool { return errors.Is(err, ErrUnique) }

// insert runs an INSERT that a uniqueness constraint may refuse with ON
// CONFLICT DO NOTHING, so that the transaction goes on in both dialects
// (PostgreSQL would abort it on the error): a row refused is exists
// wrapped in store.ErrExists.
func (t *txn) insert(exists, query string, args ...any) error {
	n, err := t.q.Exec(t.ctx, query+" ON CONFLICT DO NOTHING", args...)
	if err == nil && n == 0 {
		return fmt.Errorf("%s: %w", exists, store.ErrExists)
	}
	return err
}

func isNoRows(err error) bool { return errors.Is(err, ErrNoRows) }

// all reads every row of a query with scan: all(scanUser)(q.Query(…)).
func all[T any](scan func(interface{ Scan(...any) error }) (T, error)) func(Rows, error) ([]T, error) {
	return func(rows Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// affected turns an Exec that changed no row into ErrNotFound.
func affected(n int64, err error, what string) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// once is the answer of a conditional UPDATE that is a single-use rule:
// whether it changed the row.
func once(n int64, err error) (bool, error) { return n == 1, err }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Migrator is what Migrate needs of a dialect.
type Migrator interface {
	// Applied is the highest migration applied, 0 for a new database; it
	// makes the table that records them if need be.
	Applied(ctx context.Context) (int, error)
	// Apply runs a migration's statements and records its version and
	// name, in one transaction; it does nothing when another process has
	// applied that version since Applied looked.
	Apply(ctx context.Context, version int, name, body string) error
}

// Migrate applies the migrations NNNN_name.sql of fsys's dir that m has not
// applied, in order, and refuses a database whose version is newer than
// the last of them: it was made by a newer segld.
func Migrate(ctx context.Context, fsys fs.FS, dir string, m Migrator) error {
	files, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	applied, err := m.Applied(ctx)
	if err != nil {
		return err
	}
	latest := 0
	for _, f := range files {
		name := strings.TrimPrefix(f, dir+"/")
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: the name must start with its number", name)
		}
		latest = max(latest, v)
		if v <= applied {
			continue
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		if err := m.Apply(ctx, v, name, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	if applied > latest {
		return fmt.Errorf("the database is at schema version %d, newer than this segld knows (%d): run a newer segld", applied, latest)
	}
	return nil
}
