// Package sqlite is the embedded SQLite implementation of store.Store.
//
// The database runs in WAL mode with synchronous=FULL, so a committed order
// or spent activation survives a power loss, and every write transaction
// begins IMMEDIATE: it takes the write lock first, so two segld processes
// on one file serialise instead of failing each other's upgrades.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite store. It holds two pools: one connection for writes and
// several read-only ones, since SQLite admits one writer at a time anyway.
type DB struct {
	w, r *sql.DB
	now  func() time.Time
}

var _ store.Store = (*DB)(nil)

// Open opens (creating it if needed) the database at path and applies any
// migration it has not seen.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	common := "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on"
	w, err := sql.Open("sqlite3", base+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	db := &DB{w: w, now: time.Now}
	if err := db.migrate(context.Background()); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	r, err := sql.Open("sqlite3", base+"?"+common+"&_query_only=true")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db.r = r
	// Check the settings took: a database that silently fell back to a
	// rollback journal or NORMAL sync would lose committed state.
	var mode string
	var syncLevel int
	if err := w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := w.QueryRow("PRAGMA synchronous").Scan(&syncLevel); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if mode != "wal" || syncLevel != 2 {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: journal_mode=%s synchronous=%d, want wal and FULL (2): is the file on a filesystem without shared memory?", path, mode, syncLevel)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	var errR error
	if db.r != nil {
		errR = db.r.Close()
	}
	return errors.Join(db.w.Close(), errR)
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// SchemaVersion is the highest migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// migrate applies the migrations this database has not seen.
func (db *DB) migrate(ctx context.Context) error {
	return sqlstore.Migrate(ctx, migrations, "migrations", migrator{db})
}

// migrator applies migrations on the write pool.
type migrator struct{ db *DB }

func (m migrator) Applied(ctx context.Context) (int, error) {
	if _, err := m.db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL) STRICT`); err != nil {
		return 0, err
	}
	var v int
	err := m.db.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (m migrator) Apply(ctx context.Context, version int, name, body string) error {
	tx, err := m.db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// The transaction holds the write lock (IMMEDIATE): a segld that
	// started at the same moment and applied it first is seen here.
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", version).Scan(&done); err != nil || done > 0 {
		tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, ?, ?)", version, name, m.db.now().UnixNano()); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Update runs fn in an IMMEDIATE transaction: it holds SQLite's write lock
// from its start, which is the hold on the audit chain's head that
// sqlstore.NewTx needs, across processes too.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", errorOf(err))
	}
	if err := fn(sqlstore.NewTx(ctx, querier{tx})); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", errorOf(err))
	}
	return nil
}

// View runs fn in a read transaction on the read-only pool.
func (db *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", errorOf(err))
	}
	defer tx.Rollback()
	return fn(sqlstore.NewReader(ctx, querier{tx}))
}

// querier is sqlstore's Querier over a database/sql transaction, with
// SQLite's errors said as sqlstore's.
type querier struct{ tx *sql.Tx }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, errorOf(err)
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, errorOf(err)
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{q.tx.QueryRowContext(ctx, query, args...)}
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return errorOf(r.r.Scan(dest...)) }

// errorOf says a missing row and a broken UNIQUE or PRIMARY KEY as
// sqlstore does, and the database's own trouble as store.ErrUnavailable,
// keeping SQLite's error in the chain.
func errorOf(err error) error {
	var se sqlite3.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", sqlstore.ErrNoRows, err)
	case errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey):
		return fmt.Errorf("%w: %w", sqlstore.ErrUnique, err)
	case errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked || se.Code == sqlite3.ErrIoErr ||
		se.Code == sqlite3.ErrFull || se.Code == sqlite3.ErrCantOpen):
		// Another process held the lock past the busy timeout, or the
		// disk failed or filled: the database's trouble, not the request's.
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
