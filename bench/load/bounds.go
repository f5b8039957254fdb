package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/postgres"
	"github.com/segl/segl/signer/store/sqlite"
)

// boundResult is an intrinsic cost measured in the same run as a flow.
type boundResult struct {
	name    string
	workers int
	sum     summary
	// perOrder is how many of the bound's operations one order of the
	// flow needs at least (2 store transactions for a loop order).
	perOrder float64
	extra    [][2]string
}

// ordersPerS is the rate of orders the bound allows.
func (b *boundResult) ordersPerS() float64 { return b.sum.perS / b.perOrder }

func (b *boundResult) line() *line {
	l := &line{}
	l.add("bound", b.name)
	for _, kv := range b.extra {
		l.add(kv[0], kv[1])
	}
	l.add("workers", b.workers).add("ops", b.sum.n).add("seconds", fmt.Sprintf("%.1f", b.sum.seconds)).
		add("ops_per_s", rate(b.sum.perS)).add("p50_ms", b.sum.p50).add("p99_ms", b.sum.p99)
	return l
}

// timed runs op in workers goroutines until d has passed and summarises
// the operations that completed, over the time until the last one did.
func timed(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, w int) error) (summary, error) {
	var (
		mu      sync.Mutex
		samples []time.Duration
		first   error
		wg      sync.WaitGroup
		last    atomic.Int64
	)
	// One operation of each worker first, untimed: the first argon2id
	// hash of a process maps its memory, the first transaction opens a
	// connection.
	var warm sync.WaitGroup
	ready := make(chan struct{})
	warm.Add(workers)
	var start, deadline time.Time
	for w := range workers {
		wg.Go(func() {
			err := op(ctx, w)
			warm.Done()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
			<-ready
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := op(ctx, w); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				end := time.Now()
				mine = append(mine, end.Sub(t0))
				for {
					l := last.Load()
					if end.UnixNano() <= l || last.CompareAndSwap(l, end.UnixNano()) {
						break
					}
				}
			}
			mu.Lock()
			samples = append(samples, mine...)
			mu.Unlock()
		})
	}
	warm.Wait()
	start = time.Now()
	deadline = start.Add(d)
	close(ready)
	wg.Wait()
	if first != nil {
		return summary{}, first
	}
	elapsed := time.Duration(last.Load() - start.UnixNano())
	return summarize(samples, elapsed), nil
}

// argon2Bound is the raw argon2id rate at the config's parameters with as
// many hashes at once as the daemon runs (one per core, and no more than
// the flow's concurrency): what the password factor cannot beat.
func argon2Bound(ctx context.Context, p config.Passwords, workers int, d time.Duration) (*boundResult, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	in := make([]byte, 32) // the peppered input is an HMAC-SHA256
	rand.Read(in)
	sum, err := timed(ctx, workers, d, func(context.Context, int) error {
		argon2.IDKey(in, salt, uint32(p.Passes), uint32(p.MemoryMiB)<<10, uint8(p.Lanes), 32)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &boundResult{name: "argon2id", workers: workers, sum: sum, perOrder: 1,
		extra: [][2]string{{"m_mib", fmt.Sprint(p.MemoryMiB)}, {"t", fmt.Sprint(p.Passes)}, {"p", fmt.Sprint(p.Lanes)}}}, nil
}

// storeBound is the raw rate of the store's write transactions, each
// with an audit append, on a fresh database beside the daemons' (a
// separate SQLite file in the same directory, or a new database in the
// same PostgreSQL cluster), in workers goroutines: one worker's
// transactions alternate between a loop order's two, its start (read the
// user, insert the pending order, audit) and its cancel (read the order,
// update it, audit). A loop order commits both.
func storeBound(ctx context.Context, cfg *config.Config, workers int, d time.Duration) (*boundResult, error) {
	st, kind, cleanup, err := freshStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	users := make([]string, workers)
	pending := make([]*store.Order, workers)
	now := time.Now()
	for w := range workers {
		users[w] = fmt.Sprintf("bound-%04d", w)
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(&store.User{ID: users[w], Name: "bound", Created: now, SigningKey: []byte{0}, Certificate: []byte{0}}); err != nil {
				return err
			}
			_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminUserCreated, Actor: "load", Subject: "user:" + users[w], Outcome: "ok"})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("the bound's store: %w", err)
		}
	}
	sum, err := timed(ctx, workers, d, func(ctx context.Context, w int) error {
		now := time.Now()
		if o := pending[w]; o != nil {
			pending[w] = nil
			return st.Update(ctx, func(tx store.Tx) error {
				cur, err := tx.Order(o.Ref)
				if err != nil {
					return err
				}
				cur.State, cur.Hint, cur.Completed = store.StateFailed, "cancelled", now
				if err := tx.UpdateOrder(cur); err != nil {
					return err
				}
				_, err = tx.Audit(audit.Record{Time: now, Event: audit.OrderCancelled, Actor: "rp:bound", Subject: "order:" + o.Ref, Outcome: "ok"})
				return err
			})
		}
		o := &store.Order{Ref: randomHex(16), RP: "bound", User: users[w], Kind: store.KindAuth, State: store.StatePending,
			Hint: "outstandingTransaction", EndUserIP: endUserIP, AutoStartToken: randomHex(16), QRStartToken: randomHex(16),
			QRStartSecret: randomHex(16), Created: now, Expires: now.Add(3 * time.Minute)}
		err := st.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.User(o.User); err != nil {
				return err
			}
			if err := tx.CreateOrder(o); err != nil {
				return err
			}
			_, err := tx.Audit(audit.Record{Time: now, Event: audit.OrderStarted, Actor: "rp:bound", Subject: "order:" + o.Ref, Outcome: "ok",
				Details: map[string]string{"kind": "auth", "user": o.User, "endUserIp": endUserIP}})
			return err
		})
		if err == nil {
			pending[w] = o
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("the bound's store: %w", err)
	}
	return &boundResult{name: "store", workers: workers, sum: sum, perOrder: 2, extra: [][2]string{{"store", kind}}}, nil
}

// freshStore opens an empty store of the config's kind, and what removes
// it afterwards.
func freshStore(ctx context.Context, cfg *config.Config) (store.Store, string, func(), error) {
	if cfg.DatabaseKind() != config.DatabasePostgres {
		dir, err := os.MkdirTemp(filepath.Dir(cfg.SQLitePath()), "load-bound-")
		if err != nil {
			return nil, "", nil, err
		}
		st, err := sqlite.Open(filepath.Join(dir, "bound.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, "", nil, err
		}
		return st, "sqlite", func() { st.Close(); os.RemoveAll(dir) }, nil
	}
	raw, err := cfg.PostgresURL()
	if err != nil {
		return nil, "", nil, err
	}
	admin, err := pgx.Connect(ctx, raw)
	if err != nil {
		return nil, "", nil, fmt.Errorf("connect to PostgreSQL for the bound's database: %w", err)
	}
	name := "segl_load_bound_" + randomHex(4)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return nil, "", nil, fmt.Errorf("CREATE DATABASE %s: %w", name, err)
	}
	drop := func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.Exec(c, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(c)
	}
	u, err := url.Parse(raw)
	if err != nil {
		drop()
		return nil, "", nil, errors.New("the database URL does not parse")
	}
	u.Path = "/" + name
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return st, "postgres", func() { st.Close(); drop() }, nil
}

// storeKind names the config's store as the output does.
func storeKind(cfg *config.Config) string {
	return strings.ToLower(cfg.DatabaseKind())
}
