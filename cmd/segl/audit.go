package main

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/api"
	"github.com/segl/segl/signer/audit"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "check the audit log",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "walk the audit chain and its signed checkpoints and name the first broken record",
			Description: "The records come from segld's admin API (SEGL_ADDR, SEGL_CA, SEGL_CERT, SEGL_KEY). The audit public key, and the last " +
				"checkpoint segld signed, come from the HSM (SEGL_HSM_*), never from segld itself: the chain must reach that checkpoint, so " +
				"records removed from the end are found. --checkpoints checks the log against a copy of the checkpoints kept elsewhere " +
				"(segld's audit.checkpoint-file). A checkpoint missing where the cadence requires one (checkpoint-every records, " +
				"checkpoint-interval; segld's own unless given) breaks the chain too.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "key-label", Value: "audit", Usage: "the audit key's label on the token"},
				&cli.StringFlag{Name: "checkpoint-object", Value: "audit-checkpoint", Usage: "the label of the token data object holding the last checkpoint (audit.checkpoint-object)"},
				&cli.StringFlag{Name: "public-key", Usage: "the audit public key as a PEM file, instead of the HSM (the HSM's last checkpoint is then not read)"},
				&cli.StringFlag{Name: "checkpoints", Usage: "a checkpoint file (JSON lines, as segld's audit.checkpoint-file writes) to check the log against"},
				&cli.IntFlag{Name: "checkpoint-every", Usage: "the cadence to hold the log to, in records (default: segld's)"},
				&cli.DurationFlag{Name: "checkpoint-interval", Usage: "the cadence to hold the log to, in time (default: segld's)"},
				&cli.DurationFlag{Name: "grace", Value: 5 * time.Second, Usage: "how late a checkpoint may come"},
			},
			Action: auditVerify,
		}},
	}
}

func readPublicKey(f string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("--public-key: %s holds no PEM block", f)
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}

// fromHSM reads the audit public key and the last checkpoint (nil when
// the HSM holds none yet).
func fromHSM(c *cli.Context) (crypto.PublicKey, *audit.Checkpoint, error) {
	ks, err := openKeystore()
	if err != nil {
		return nil, nil, err
	}
	defer ks.Close()
	pub, err := ks.PublicKey(c.String("key-label"))
	if err != nil {
		return nil, nil, fmt.Errorf("the audit public key: %w", err)
	}
	b, err := ks.Data(c.String("checkpoint-object"))
	if errors.Is(err, hsm.ErrDataNotFound) {
		return pub, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	cp, err := audit.ParseCheckpoint(b)
	if err != nil {
		return nil, nil, fmt.Errorf("the HSM's checkpoint object %q: %w", c.String("checkpoint-object"), err)
	}
	return pub, &cp, nil
}

func auditVerify(c *cli.Context) error {
	w := c.App.Writer
	var pub crypto.PublicKey
	var exp audit.Expect
	var err error
	if f := c.String("public-key"); f != "" {
		if pub, err = readPublicKey(f); err != nil {
			return fmt.Errorf("the audit public key: %w", err)
		}
	} else if pub, exp.Anchor, err = fromHSM(c); err != nil {
		return err
	}
	if f := c.String("checkpoints"); f != "" {
		file, err := os.Open(f)
		if err != nil {
			return err
		}
		exp.External, err = audit.ReadCheckpoints(file)
		file.Close()
		if err != nil {
			return fmt.Errorf("--checkpoints %s: %w", f, err)
		}
		exp.ExternalName = f
	}
	cl, err := newAPIClient()
	if err != nil {
		return err
	}
	var records []audit.Stored
	var checkpoints []audit.Checkpoint
	var cadence *api.AuditCadence
	for from := uint64(1); from != 0; {
		var page api.AuditPage
		if err := cl.do("GET", "/admin/v1/audit?from="+strconv.FormatUint(from, 10), nil, &page); err != nil {
			return err
		}
		for _, e := range page.Records {
			h, err := parseHash(e.Hash)
			if err != nil {
				return fmt.Errorf("record %d: %w", e.Record.Seq, err)
			}
			records = append(records, audit.Stored{Record: e.Record, Hash: h})
		}
		checkpoints = append(checkpoints, page.Checkpoints...)
		if page.Cadence != nil {
			cadence = page.Cadence
		}
		from = page.Next
	}
	if cadence != nil || c.IsSet("checkpoint-every") || c.IsSet("checkpoint-interval") {
		cd := &audit.Cadence{Grace: c.Duration("grace")}
		if cadence != nil {
			cd.Every, cd.Interval = uint64(cadence.Every), time.Duration(cadence.IntervalSeconds)*time.Second
		}
		if c.IsSet("checkpoint-every") {
			cd.Every = uint64(c.Int("checkpoint-every"))
		}
		if c.IsSet("checkpoint-interval") {
			cd.Interval = c.Duration("checkpoint-interval")
		}
		if cd.Every < 1 || cd.Interval <= 0 {
			return fmt.Errorf("the cadence (--checkpoint-every %d, --checkpoint-interval %s) must be positive", cd.Every, cd.Interval)
		}
		exp.Cadence, exp.Now = cd, time.Now()
	}
	rep, err := audit.Verify(audit.Records(records), checkpoints, pub, exp)
	if err != nil {
		return err
	}
	if rep.Broken != nil {
		return cli.Exit(fmt.Sprintf("audit chain broken at record %d: %s", rep.Broken.Seq, rep.Broken.Reason), 1)
	}
	fmt.Fprintf(w, "audit chain ok: %d records, %d checkpoints, last checkpoint at %d\n", rep.Records, rep.Checkpoints, rep.LastCheckpoint)
	fmt.Fprintf(w, "head: %s\n", rep.Head)
	switch {
	case exp.Anchor != nil:
		fmt.Fprintf(w, "the HSM's last checkpoint, record %d, is in the chain\n", rep.Anchored)
	case c.String("public-key") != "":
		fmt.Fprintln(w, "the HSM's last checkpoint was not read (--public-key): records removed from the end would not show; give --checkpoints FILE")
	default:
		fmt.Fprintln(w, "the HSM holds no checkpoint yet: segld writes one at its first seal")
	}
	if exp.ExternalName != "" {
		fmt.Fprintf(w, "%s: %d checkpoints, each in the chain and the database\n", exp.ExternalName, rep.External)
	}
	if exp.Cadence != nil {
		fmt.Fprintf(w, "cadence held: a checkpoint at least every %d records and %s\n", exp.Cadence.Every, exp.Cadence.Interval)
	}
	if rep.Unsealed > 0 {
		fmt.Fprintf(w, "%d records after the last checkpoint are protected by the chain only until the next checkpoint\n", rep.Unsealed)
	}
	return nil
}

func parseHash(s string) (audit.Hash, error) {
	var h audit.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("hash %q is not 32 bytes of hex", s)
	}
	copy(h[:], b)
	return h, nil
}
