package daemon

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/outside"
	"github.com/segl/segl/signer/store"
)

// dataObjects keep a value in the HSM (*hsm.Keystore).
type dataObjects interface {
	Data(label string) ([]byte, error)
	SetData(label string, value []byte) error
}

// sealer signs the checkpoints of the audit chain (DESIGN "Audit chain
// v1"). The last checkpoint it signed is kept in the HSM, where whoever
// can write the database cannot change it or roll it back, and before it
// signs anything it checks that the stored chain extends that checkpoint
// record by record: a database rewritten under it (truncated, edited and
// rehashed, records deleted and renumbered) gets no signature, an ERROR
// in the log, segl_audit_chain_broken 1, and a /readyz that says so.
//
// Checkpoints come every checkpoint-every records, at exactly those
// records, and checkpoint-interval after the first record not yet sealed,
// so that `segl audit verify` can tell a missing one; each is also
// appended to audit.checkpoint-file, if set, and logged.
type sealer struct {
	db       store.Store
	key      crypto.Signer
	hsm      dataObjects
	label    string
	file     *audit.File
	log      *slog.Logger
	clock    clock.Clock
	every    uint64
	interval time.Duration

	mu      sync.Mutex // one seal at a time in this process; the database's write lock orders processes
	broken  atomic.Pointer[audit.Break]
	lastErr string

	brokenGauge prometheus.Gauge
	refusals    prometheus.Counter
	signed      prometheus.Counter
}

func newSealer(db store.Store, key crypto.Signer, objects dataObjects, label string, file *audit.File, log *slog.Logger,
	clk clock.Clock, every int, interval time.Duration) *sealer {
	return &sealer{db: db, key: key, hsm: objects, label: label, file: file, log: log, clock: clk, every: uint64(every), interval: interval,
		brokenGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segl_audit_chain_broken",
			Help: "1 when the stored audit chain does not extend the last checkpoint in the HSM: nothing is sealed until it does."}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{Name: "segl_audit_seal_refusals_total",
			Help: "Seals refused because the stored audit chain does not extend the HSM's last checkpoint."}),
		signed: prometheus.NewCounter(prometheus.CounterOpts{Name: "segl_audit_checkpoints_total",
			Help: "Audit checkpoints signed by this process."}),
	}
}

func (s *sealer) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.brokenGauge, s.refusals, s.signed}
}

// Broken is the first record that does not extend the HSM's checkpoint,
// as last found, or nil.
func (s *sealer) Broken() *audit.Break { return s.broken.Load() }

// errBroken wraps the break that stopped a seal.
type errBroken struct{ *audit.Break }

func (e errBroken) Error() string {
	return fmt.Sprintf("the audit log does not extend the HSM's last checkpoint: record %d: %s", e.Seq, e.Reason)
}

// anchor reads the HSM's last checkpoint: nil when none was written yet.
func (s *sealer) anchor() (*audit.Checkpoint, error) {
	b, err := s.hsm.Data(s.label)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := audit.ParseCheckpoint(b)
	if err == nil {
		err = c.Verify(s.key.Public())
	}
	if err != nil {
		return nil, fmt.Errorf("the HSM's checkpoint object %q (audit.checkpoint-object) is not a checkpoint of this audit key: %w", s.label, err)
	}
	return &c, nil
}

// plan is what a walk from the HSM's checkpoint found.
type plan struct {
	base    *audit.Checkpoint // the checkpoint the walk started from: the HSM's, or one adopted
	adopted bool              // base came from the database: the HSM had none yet
	heal    bool              // the database lacks the HSM's checkpoint (a commit lost after the HSM was written)
	targets []audit.Checkpoint
	head    uint64
}

// walk checks that the stored chain extends anchor record by record (from
// the start when there is no anchor) and picks the records due a
// checkpoint at now; final picks the head as well.
func (s *sealer) walk(r store.Reader, anchor *audit.Checkpoint, now time.Time, final bool) (*plan, error) {
	p := &plan{base: anchor}
	var dbCheckpoints map[uint64]audit.Checkpoint
	if anchor == nil {
		// The first seal with this HSM (a new installation, or one
		// from before the HSM kept checkpoints): the whole chain is
		// checked, and the database's checkpoints with it.
		cps, err := r.AuditCheckpoints()
		if err != nil {
			return nil, err
		}
		dbCheckpoints = map[uint64]audit.Checkpoint{}
		for _, c := range cps {
			dbCheckpoints[c.Seq] = c
		}
	} else {
		last, err := r.LastCheckpoint()
		if err != nil {
			return nil, err
		}
		p.heal = last < anchor.Seq
	}
	var prev audit.Hash
	from := uint64(1)
	if anchor != nil && anchor.Seq > 1 {
		from = anchor.Seq - 1 // the anchor's record is checked against the one before it
	}
	next := from
	var sealedAt uint64
	var firstUnsealed time.Time
	var brk *audit.Break
	err := r.AuditRecords(from, func(st audit.Stored) (bool, error) {
		seq := st.Record.Seq
		if seq != next {
			brk = &audit.Break{Seq: next, Reason: fmt.Sprintf("record %d is missing: the next record is numbered %d", next, seq)}
			return false, nil
		}
		next++
		p.head = seq
		if anchor != nil && seq < anchor.Seq {
			prev = st.Hash // the record before the anchor's: sealed, checked by verify
			return true, nil
		}
		h, err := audit.Next(prev, st.Record)
		if err != nil || h != st.Hash {
			brk = &audit.Break{Seq: seq, Reason: fmt.Sprintf("record %d was altered: its hash does not follow from record %d", seq, seq-1)}
			return false, nil
		}
		prev = h
		if anchor != nil && seq == anchor.Seq {
			if h != anchor.Hash {
				brk = &audit.Break{Seq: seq, Reason: fmt.Sprintf("record %d is not what the HSM's last checkpoint sealed: the log was rewritten up to there", seq)}
				return false, nil
			}
			sealedAt = seq
			return true, nil
		}
		if c, ok := dbCheckpoints[seq]; ok {
			if c.Hash != h || c.Verify(s.key.Public()) != nil {
				brk = &audit.Break{Seq: seq, Reason: fmt.Sprintf("checkpoint %d does not match the chain, or is not signed by the audit key", seq)}
				return false, nil
			}
			p.base, p.adopted, sealedAt = &c, true, seq
			p.targets = p.targets[:0] // sealed already
			return true, nil
		}
		if seq == sealedAt+1 {
			firstUnsealed = st.Record.Time
		}
		if seq == sealedAt+s.every {
			p.targets = append(p.targets, audit.Checkpoint{Seq: seq, Hash: h})
			sealedAt = seq
		}
		return true, nil
	})
	if err != nil || brk != nil {
		return nil, errors.Join(err, errBrokenOrNil(brk))
	}
	for _, c := range dbCheckpoints {
		if c.Seq >= next {
			return nil, errBroken{&audit.Break{Seq: next, Reason: fmt.Sprintf("checkpoint %d seals records that are gone: the log ends at record %d", c.Seq, next-1)}}
		}
	}
	if anchor != nil && next <= anchor.Seq {
		end := next - 1
		if next == from {
			// Not even the record before the anchor's is there: the
			// walk saw nothing, so ask where the log ends.
			head, _, err := r.AuditHead()
			if err != nil {
				return nil, err
			}
			end = head
		}
		return nil, errBroken{&audit.Break{Seq: end + 1, Reason: fmt.Sprintf("the log ends at record %d, but the HSM's last checkpoint seals record %d: records %d to %d were removed",
			end, anchor.Seq, end+1, anchor.Seq)}}
	}
	if p.head > sealedAt && (final || now.Sub(firstUnsealed) >= s.interval) {
		p.targets = append(p.targets, audit.Checkpoint{Seq: p.head, Hash: prev})
	}
	return p, nil
}

func errBrokenOrNil(b *audit.Break) error {
	if b == nil {
		return nil
	}
	return errBroken{b}
}

// check walks the chain from the HSM's checkpoint without sealing, as at
// start: a log rewritten while segld was stopped is found at once.
func (s *sealer) check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	anchor, err := s.anchor()
	if err != nil {
		return err
	}
	err = s.db.View(ctx, func(r store.Reader) error {
		_, err := s.walk(r, anchor, s.clock.Now(), false)
		return err
	})
	return s.outcome(err)
}

// seal signs what is due (with final, everything not sealed yet), after
// checking that the stored chain extends the HSM's last checkpoint. It
// returns how many checkpoints it signed.
func (s *sealer) seal(ctx context.Context, final bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	due, err := s.due(ctx, now, final)
	if err != nil || !due {
		return 0, s.outcome(err)
	}
	var made []audit.Checkpoint
	var healed *audit.Checkpoint
	// The checkpoints' signatures are made outside the transaction
	// (package outside); the HSM's copy of the last one is written inside
	// it, which is what keeps it moving forward only when several segld
	// seal one chain.
	err = outside.Update(ctx, s.db, func(tx store.Tx, calls *outside.Calls) error {
		made, healed = nil, nil
		// Again, under the database's write lock: another segld may
		// have sealed since.
		anchor, err := s.anchor()
		if err != nil {
			return err
		}
		p, err := s.walk(tx, anchor, now, final)
		if err != nil {
			return err
		}
		if p.heal {
			if err := tx.AddCheckpoint(*anchor); err != nil {
				return err
			}
			healed = anchor
		}
		for _, c := range p.targets {
			sig, err := outside.Do(calls, fmt.Sprintf("checkpoint\x00%d\x00%x", c.Seq, c.Hash), func() ([]byte, error) {
				return audit.SignCheckpoint(s.key, c.Seq, c.Hash)
			})
			if err != nil {
				return err
			}
			c.Time, c.Signature = now, sig
			if err := tx.AddCheckpoint(c); err != nil {
				return err
			}
			made = append(made, c)
		}
		last := p.base
		if len(made) > 0 {
			last = &made[len(made)-1]
		}
		if last == nil || (anchor != nil && last.Seq == anchor.Seq) {
			return nil
		}
		if p.adopted {
			s.log.Warn("the HSM held no audit checkpoint, the database some: the whole chain and its checkpoints were checked, and the HSM keeps the last one from now on",
				"checkpoint_object", s.label, "seq", last.Seq)
		}
		// In the HSM before the commit: the HSM never knows less than
		// the database. Should the commit fail, the next seal finds the
		// database without this checkpoint and writes it again.
		b, err := json.Marshal(last)
		if err != nil {
			return err
		}
		return s.hsm.SetData(s.label, b)
	})
	if err != nil {
		return 0, s.outcome(err)
	}
	s.outcome(nil)
	if healed != nil {
		s.log.Warn("the database lacked the HSM's last audit checkpoint (a commit lost after the HSM was written?): it is stored again", "seq", healed.Seq)
	}
	for _, c := range made {
		s.signed.Inc()
		s.log.Info("audit checkpoint", "seq", c.Seq, "hash", c.Hash.String(), "signed_at", c.Time, "signature", base64.StdEncoding.EncodeToString(c.Signature))
		if s.file != nil {
			if err := s.file.Append(c); err != nil {
				s.log.Error("append to audit.checkpoint-file", "seq", c.Seq, "err", err)
			}
		}
	}
	return len(made), nil
}

// due looks with a read transaction first, since most ticks find nothing
// to seal and should not take the database's write lock.
func (s *sealer) due(ctx context.Context, now time.Time, final bool) (bool, error) {
	anchor, err := s.anchor()
	if err != nil {
		return false, err
	}
	due := false
	err = s.db.View(ctx, func(r store.Reader) error {
		seq, head, err := r.AuditHead()
		if err != nil || seq == 0 {
			return err
		}
		var sealed uint64
		if anchor != nil {
			sealed = anchor.Seq
			if seq == sealed && head == anchor.Hash {
				return nil
			}
		} else if last, err := r.LastCheckpoint(); err != nil || last > 0 {
			due = true // checkpoints in the database, none in the HSM yet: adopt them
			return err
		}
		if seq <= sealed {
			due = true // fewer records than the HSM sealed: let the walk say what is wrong
			return nil
		}
		if final || seq-sealed >= s.every {
			due = true
			return nil
		}
		return r.AuditRecords(sealed+1, func(st audit.Stored) (bool, error) {
			due = now.Sub(st.Record.Time) >= s.interval
			return false, nil
		})
	})
	return due, err
}

// outcome records whether the chain was found broken, and says so once
// in the log (at ERROR, naming the first bad record) and in the metrics.
func (s *sealer) outcome(err error) error {
	var be errBroken
	if !errors.As(err, &be) {
		if err == nil && s.broken.Swap(nil) != nil {
			s.brokenGauge.Set(0)
			s.log.Warn("the audit log extends the HSM's last checkpoint again; sealing resumes")
		}
		return err
	}
	s.refusals.Inc()
	s.brokenGauge.Set(1)
	if old := s.broken.Swap(be.Break); old == nil || *old != *be.Break {
		s.log.Error("audit log broken: nothing is sealed until it extends the HSM's last checkpoint again; restore the database from a backup and run `segl audit verify`",
			"record", be.Seq, "reason", be.Reason)
	}
	return err
}

// sealLoop seals what is due once a second, and everything on the way
// out (SIGTERM), so that what was written before a stop is protected.
func (d *Daemon) sealLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if _, err := d.seal.seal(context.Background(), true); err != nil {
				d.log.Error("seal the audit chain on the way out", "err", err)
			}
			return
		case <-tick.C:
			_, err := d.seal.seal(ctx, false)
			var be errBroken
			switch {
			case err == nil:
				d.seal.lastErr = ""
			case errors.As(err, &be):
				// outcome has said it.
			case err.Error() != d.seal.lastErr:
				d.seal.lastErr = err.Error()
				d.log.Error("seal the audit chain", "err", err)
			}
		}
	}
}

// Seal signs every checkpoint due now, and with final the head too; for
// tools and tests. It returns how many it signed.
func (d *Daemon) Seal(ctx context.Context, final bool) (int, error) { return d.seal.seal(ctx, final) }

// AuditBroken is the first record that does not extend the HSM's last
// checkpoint, as the sealer last found it, or nil.
func (d *Daemon) AuditBroken() *audit.Break { return d.seal.Broken() }
