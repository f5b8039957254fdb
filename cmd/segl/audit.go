package main

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

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
			Description: "The records come from segld's admin API (SEGL_ADDR, SEGL_CA, SEGL_CERT, SEGL_KEY). The audit public key " +
				"comes from the HSM (SEGL_HSM_*, the key labelled --key-label), or from --public-key, never from segld itself.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "key-label", Value: "audit", Usage: "the audit key's label on the token"},
				&cli.StringFlag{Name: "public-key", Usage: "the audit public key as a PEM file, instead of reading it from the HSM"},
			},
			Action: auditVerify,
		}},
	}
}

func auditPublicKey(c *cli.Context) (crypto.PublicKey, error) {
	if f := c.String("public-key"); f != "" {
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
	ks, err := openKeystore()
	if err != nil {
		return nil, err
	}
	defer ks.Close()
	return ks.PublicKey(c.String("key-label"))
}

func auditVerify(c *cli.Context) error {
	pub, err := auditPublicKey(c)
	if err != nil {
		return fmt.Errorf("the audit public key: %w", err)
	}
	cl, err := newAPIClient()
	if err != nil {
		return err
	}
	var records []audit.Stored
	var checkpoints []audit.Checkpoint
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
		for _, cp := range page.Checkpoints {
			h, err := parseHash(cp.Hash)
			if err != nil {
				return fmt.Errorf("checkpoint %d: %w", cp.Seq, err)
			}
			checkpoints = append(checkpoints, audit.Checkpoint{Seq: cp.Seq, Hash: h, Time: cp.Time, Signature: cp.Signature})
		}
		from = page.Next
	}
	i := 0
	rep, err := audit.Verify(func() (audit.Stored, bool, error) {
		if i == len(records) {
			return audit.Stored{}, false, nil
		}
		i++
		return records[i-1], true, nil
	}, checkpoints, pub)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if rep.Broken != nil {
		return cli.Exit(fmt.Sprintf("audit chain broken at record %d: %s", rep.Broken.Seq, rep.Broken.Reason), 1)
	}
	fmt.Fprintf(w, "audit chain ok: %d records, %d checkpoints, last checkpoint at %d\n", rep.Records, rep.Checkpoints, rep.LastCheckpoint)
	fmt.Fprintf(w, "head: %s\n", rep.Head)
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
