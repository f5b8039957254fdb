// Package postgres is the PostgreSQL implementation of store.Store, for
// several segld on one database.
//
// It runs the same SQL as the SQLite store (package sqlstore). What SQLite
// gives by having one writer at a time, this package gives by a lock:
// every write transaction first locks the audit chain's head row (FOR
// UPDATE), so writers from any number of daemons are serialised in the
// database, each appends to the head the one before it left, and each reads
// (READ COMMITTED, a fresh snapshot per statement after the lock) what the
// one before it committed. The single-use rules need no more than that:
// they are conditional UPDATEs and unique constraints, which hold under
// any isolation. Read-only transactions are REPEATABLE READ, so that a
// walk of the audit chain sees one state.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL store over a pool of connections.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// migrationLock is the advisory lock daemons starting together take, so
// that one applies the migrations and the others then find them applied.
const migrationLock = 0x5e6c_0001

// Open connects to the database at url (postgres://…, as pgx reads it) and
// applies the migrations it has not seen. It refuses a database whose
// schema is newer than this segld's.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: the database URL does not parse: see docs/config.md for its form")
	}
	// pgxpool pings a connection idle for more than a second before it
	// lends it; every 15 s it also closes idle connections that are
	// broken or too old, so that a pool behind a failed-over primary
	// reconnects.
	cfg.HealthCheckPeriod = 15 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// SchemaVersion is the highest migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock)
	return sqlstore.Migrate(ctx, migrations, "migrations", migrator{conn.Conn()})
}

type migrator struct{ conn *pgx.Conn }

func (m migrator) Applied(ctx context.Context) (int, error) {
	if _, err := m.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
		return 0, err
	}
	var v int
	err := m.conn.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (m migrator) Apply(ctx context.Context, version int, name, body string) error {
	return pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		// Without arguments Exec uses the simple protocol, which takes a
		// file of several statements.
		if _, err := tx.Exec(ctx, body); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations VALUES ($1, $2, $3)", version, name, time.Now().UnixNano())
		return err
	})
}

// beginUpdate begins a write transaction and locks the audit chain's head
// in one round trip (pgx sends a query without arguments in the simple
// protocol, which takes several statements): behind a network the begin
// and the lock are each a round trip that every write would wait for.
const beginUpdate = "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT id FROM audit_head WHERE id = 1 FOR UPDATE"

// Update runs fn in a transaction that first locks the audit chain's head.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: beginUpdate})
	if err != nil {
		return fmt.Errorf("postgres: begin and lock the audit head: %w", errorOf(err))
	}
	defer tx.Rollback(context.Background())
	if err := fn(sqlstore.NewTx(ctx, querier{tx})); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		// A commit whose answer was lost may have committed: the caller
		// answers 503, and the client's retry meets a spent value, which
		// counts nothing.
		return fmt.Errorf("postgres: commit: %w", errorOf(err))
	}
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction.
func (db *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", errorOf(err))
	}
	defer tx.Rollback(context.Background())
	return fn(sqlstore.NewReader(ctx, querier{tx}))
}

// querier is sqlstore's Querier over a pgx transaction: it numbers the
// placeholders as PostgreSQL wants them and says its errors as sqlstore
// does.
type querier struct{ tx pgx.Tx }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(ctx, rebind(query), args...)
	if err != nil {
		return 0, errorOf(err)
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.tx.Query(ctx, rebind(query), args...)
	if err != nil {
		return nil, errorOf(err)
	}
	return pgRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return pgRow{q.tx.QueryRow(ctx, rebind(query), args...)}
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error { r.Rows.Close(); return nil }

func (r pgRows) Err() error { return errorOf(r.Rows.Err()) }

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return errorOf(r.r.Scan(dest...)) }

// errorOf says a missing row and a unique violation (SQLSTATE 23505) as
// sqlstore does, and the database's own trouble as store.ErrUnavailable,
// keeping pgx's error in the chain.
func errorOf(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", sqlstore.ErrNoRows, err)
	case errors.As(err, &pe) && pe.Code == "23505":
		return fmt.Errorf("%w: %w", sqlstore.ErrUnique, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unavailable reports an error of the server or the connection rather
// than of the statement: SQLSTATE classes 08 (connection exception), 53
// (insufficient resources), 57P (operator intervention: shutting down,
// not yet accepting connections), 40001/40P01 (serialization failure,
// deadlock), 25006 (a read-only transaction: a standby that was the
// primary), and no connection at all.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := pe.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") ||
			c == "40001" || c == "40P01" || c == "25006"
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, pgx.ErrTxClosed)
}

var rebound sync.Map // query → its PostgreSQL form

// rebind turns sqlstore's placeholders into PostgreSQL's: each `?` into
// `$1`, `$2`, … in order, and `?N` into `$N`. Quoted strings and
// identifiers are left alone.
func rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			j := i + 1
			for j < len(query) && '0' <= query[j] && query[j] <= '9' {
				j++
			}
			if j > i+1 {
				b.WriteString("$" + query[i+1:j])
				i = j - 1
				continue
			}
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	q := b.String()
	rebound.Store(query, q)
	return q
}
