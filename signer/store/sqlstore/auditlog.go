package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/segl/segl/signer/audit"
)

// Audit appends r to the chain inside the caller's transaction. The write
// transaction holds the chain's head from its start (NewTx), so the head
// read here cannot change before the insert, even across processes.
func (t *txn) Audit(r audit.Record) (audit.Stored, error) {
	seq, prev, err := t.AuditHead()
	if err != nil {
		return audit.Stored{}, err
	}
	r.Seq = seq + 1
	r.Time = r.Time.UTC()
	h, err := audit.Next(prev, r)
	if err != nil {
		return audit.Stored{}, fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	details, err := json.Marshal(r.Details)
	if err != nil {
		return audit.Stored{}, err
	}
	if r.Details == nil {
		details = []byte("{}")
	}
	_, err = t.q.Exec(t.ctx, `INSERT INTO audit (seq, time, event, actor, subject, outcome, details, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.Seq, r.Time.UnixNano(), r.Event, r.Actor, r.Subject, r.Outcome, string(details), h[:])
	if err != nil {
		return audit.Stored{}, fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	t.head = &chainHead{r.Seq, h}
	return audit.Stored{Record: r, Hash: h}, nil
}

type chainHead struct {
	seq  uint64
	hash audit.Hash
}

// AuditHead in a write transaction reads the head once and then follows
// the transaction's own appends.
func (t *txn) AuditHead() (uint64, audit.Hash, error) {
	if t.head != nil {
		return t.head.seq, t.head.hash, nil
	}
	seq, h, err := t.reader.AuditHead()
	if err != nil {
		return 0, audit.Hash{}, err
	}
	t.head = &chainHead{seq, h}
	return seq, h, nil
}

func (r reader) AuditHead() (uint64, audit.Hash, error) {
	var seq uint64
	var h []byte
	err := r.q.QueryRow(r.ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if err != nil {
		if isNoRows(err) {
			return 0, audit.Hash{}, nil
		}
		return 0, audit.Hash{}, err
	}
	var head audit.Hash
	if len(h) != len(head) {
		return 0, audit.Hash{}, fmt.Errorf("audit record %d: stored hash is %d bytes, want %d", seq, len(h), len(head))
	}
	copy(head[:], h)
	return seq, head, nil
}

// AuditRecords reads the rows back exactly as stored: a row edited in the
// file gives a record whose hash no longer follows, which audit.Verify names.
func (r reader) AuditRecords(from uint64, fn func(audit.Stored) (bool, error)) error {
	rows, err := r.q.Query(r.ctx, `SELECT seq, time, event, actor, subject, outcome, details, hash
		FROM audit WHERE seq >= ? ORDER BY seq`, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s audit.Stored
		var t int64
		var details string
		var h []byte
		if err := rows.Scan(&s.Record.Seq, &t, &s.Record.Event, &s.Record.Actor, &s.Record.Subject, &s.Record.Outcome, &details, &h); err != nil {
			return err
		}
		s.Record.Time = fromNanos(t)
		if err := json.Unmarshal([]byte(details), &s.Record.Details); err != nil {
			return fmt.Errorf("audit record %d: details are not a JSON object of strings: %w", s.Record.Seq, err)
		}
		if len(s.Record.Details) == 0 {
			s.Record.Details = nil
		}
		copy(s.Hash[:], h)
		more, err := fn(s)
		if err != nil || !more {
			return err
		}
	}
	return rows.Err()
}

func (r reader) AuditCheckpoints() ([]audit.Checkpoint, error) {
	rows, err := r.q.Query(r.ctx, `SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []audit.Checkpoint
	for rows.Next() {
		var c audit.Checkpoint
		var h []byte
		var t int64
		if err := rows.Scan(&c.Seq, &h, &t, &c.Signature); err != nil {
			return nil, err
		}
		copy(c.Hash[:], h)
		c.Time = fromNanos(t)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func (t *txn) AddCheckpoint(c audit.Checkpoint) error {
	// The same head sealed twice (two processes) is sealed: one is enough.
	_, err := t.q.Exec(t.ctx, `INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.Seq, c.Hash[:], nanos(c.Time), c.Signature)
	return err
}

func (r reader) LastCheckpoint() (uint64, error) {
	var seq uint64
	err := r.q.QueryRow(r.ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints`).Scan(&seq)
	return seq, err
}
