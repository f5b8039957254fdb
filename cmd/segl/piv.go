package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/tokens/piv"
)

// segl piv: YubiKey PIV cards.

func pivCommand() *cli.Command {
	return &cli.Command{
		Name:  "piv",
		Usage: "YubiKey PIV cards: check their attestations",
		Subcommands: []*cli.Command{
			{
				Name: "verify-attestation",
				Usage: "check a key's attestation from a YubiKey, with no card present: " +
					"prints valid: and what it attests (exit 0), or invalid: and why (exit 1)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "attestation", Usage: "the card's attestation certificate, slot f9 (DER or PEM)", Required: true},
					&cli.StringFlag{Name: "slot", Usage: "the slot's attestation certificate, as ATTEST gives it (DER or PEM)", Required: true},
					&cli.StringFlag{Name: "roots", Usage: "a PEM file of roots to trust besides Yubico's PIV attestation roots"},
				},
				Action: verifyAttestation,
			},
		},
	}
}

func verifyAttestation(c *cli.Context) error {
	var v piv.Verifier
	if f := c.String("roots"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		v.Extra = x509.NewCertPool()
		if !v.Extra.AppendCertsFromPEM(b) {
			return fmt.Errorf("--roots: %s holds no PEM certificate", f)
		}
	}
	f9, err := readDER(c.String("attestation"))
	if err != nil {
		return fmt.Errorf("--attestation: %w", err)
	}
	slot, err := readDER(c.String("slot"))
	if err != nil {
		return fmt.Errorf("--slot: %w", err)
	}
	a, err := v.Verify(f9, slot)
	if err != nil {
		fmt.Fprintf(c.App.Writer, "invalid: %v\n", err)
		return cli.Exit("", 1)
	}
	fmt.Fprintf(c.App.Writer, "valid: %s\n", a)
	return nil
}

// readDER reads a certificate file, DER or one PEM certificate.
func readDER(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a PEM %s, not a certificate", path, blk.Type)
		}
		return blk.Bytes, nil
	}
	return b, nil
}
