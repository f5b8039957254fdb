package daemon

import (
	"context"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
)

// sealLoop signs a checkpoint of the audit chain when checkpoint-every
// records have been added since the last one, or checkpoint-interval has
// passed with any record added, and once more on the way out.
func (d *Daemon) sealLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			if _, err := d.Seal(context.Background(), 1); err != nil {
				d.log.Error("seal the audit chain", "err", err)
			}
			return
		case <-tick.C:
			every := d.cfg.Audit.CheckpointEvery
			if time.Since(last) >= time.Duration(d.cfg.Audit.CheckpointInterval) {
				every = 1
			}
			sealed, err := d.Seal(ctx, every)
			if err != nil {
				d.log.Error("seal the audit chain", "err", err)
			}
			if sealed {
				last = time.Now()
			}
		}
	}
}

// Seal signs a checkpoint over the chain's head if at least minNew records
// came after the last checkpoint.
func (d *Daemon) Seal(ctx context.Context, minNew int) (bool, error) {
	// Look first with a read transaction: most ticks find nothing to seal
	// and should not take the database's write lock.
	due := false
	err := d.db.View(ctx, func(r store.Reader) error {
		seq, _, err := r.AuditHead()
		if err != nil {
			return err
		}
		last, err := r.LastCheckpoint()
		due = seq > 0 && seq >= last+uint64(minNew)
		return err
	})
	if err != nil || !due {
		return false, err
	}
	sealed := false
	err = d.db.Update(ctx, func(tx store.Tx) error {
		seq, head, err := tx.AuditHead()
		if err != nil || seq == 0 {
			return err
		}
		lastSeq, err := tx.LastCheckpoint()
		if err != nil {
			return err
		}
		if seq < lastSeq+uint64(minNew) {
			return nil
		}
		sig, err := audit.SignCheckpoint(d.audit, seq, head)
		if err != nil {
			return err
		}
		sealed = true
		return tx.AddCheckpoint(audit.Checkpoint{Seq: seq, Hash: head, Time: time.Now(), Signature: sig})
	})
	return sealed, err
}
