package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303"
	"github.com/segl/segl/plugins/docverify/icao9303/aa"
)

// segl documents: the auditor's and officer's view of the ICAO 9303
// verifier, the same code the plugin runs, with no segld.

func documentsCommand() *cli.Command {
	trustFlags := []cli.Flag{
		&cli.StringSliceFlag{Name: "csca", Usage: "a CSCA certificate (DER or PEM) or a directory of them; repeat for more"},
		&cli.StringSliceFlag{Name: "masterlist", Usage: "a CSCA master list; give its --masterlist-anchor after each"},
		&cli.StringSliceFlag{Name: "masterlist-anchor", Usage: "the CSCA that signed the master list's signer, one per --masterlist"},
		&cli.StringSliceFlag{Name: "crl", Usage: "a CSCA's CRL (DER or PEM); repeat for more"},
		&cli.StringFlag{Name: "at", Usage: "check validity at this time (RFC 3339) instead of now"},
	}
	return &cli.Command{
		Name:  "documents",
		Usage: "check passports and ID cards (ICAO 9303) from their chip's files, as segld's verifier plugin does",
		Subcommands: []*cli.Command{
			{
				Name: "verify",
				Usage: "passive (and with --aa-challenge, active) authentication of a document: one line per check, then the verdict; " +
					"exit 0 for genuine, 1 otherwise; never prints the holder's data",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "dir", Usage: "a dump directory: EF_SOD.bin, EF_DG1.bin, EF_DG2.bin, … (EF_COM.bin is ignored)"},
					&cli.StringFlag{Name: "sod", Usage: "the EF.SOD file, instead of --dir"},
					&cli.StringSliceFlag{Name: "dg", Usage: "N=FILE, a data group, with --sod; repeat for more"},
					&cli.StringFlag{Name: "aa-challenge", Usage: "the active-authentication challenge, hex (8 bytes)"},
					&cli.StringFlag{Name: "aa-signature", Usage: "a file holding the chip's signature over the challenge"},
				}, trustFlags...),
				Action: verifyDocument,
			},
			{
				Name:  "verify-aa",
				Usage: "check an active-authentication signature with a DG15 key (RSA ISO/IEC 9796-2; EC keys need DG14: use verify)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dg15", Usage: "the EF.DG15 file", Required: true},
					&cli.StringFlag{Name: "challenge", Usage: "the challenge, hex", Required: true},
					&cli.StringFlag{Name: "signature", Usage: "a file holding the signature", Required: true},
				},
				Action: func(c *cli.Context) error {
					dg15, err := os.ReadFile(c.String("dg15"))
					if err != nil {
						return err
					}
					challenge, err := hex.DecodeString(c.String("challenge"))
					if err != nil {
						return fmt.Errorf("--challenge is not hex: %v", err)
					}
					sig, err := os.ReadFile(c.String("signature"))
					if err != nil {
						return err
					}
					key, err := aa.ParseDG15(dg15)
					if err == nil && key.RSA == nil {
						err = errors.New("DG15 holds an EC key, whose hash DG14 names: use segl documents verify with both")
					}
					if err == nil {
						err = aa.VerifyRSA(key.RSA, challenge, sig)
					}
					if err != nil {
						fmt.Fprintf(c.App.Writer, "active-authentication: failed: %v\n", err)
						return cli.Exit("", 1)
					}
					fmt.Fprintln(c.App.Writer, "active-authentication: ok")
					return nil
				},
			},
			{
				Name:  "masterlist",
				Usage: "verify a CSCA master list against its anchor and count its CSCAs",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "file", Usage: "the master list", Required: true},
					&cli.StringFlag{Name: "anchor", Usage: "the CSCA that signed the master list's signer", Required: true},
					&cli.StringFlag{Name: "at", Usage: "check validity at this time (RFC 3339) instead of now"},
				},
				Action: func(c *cli.Context) error {
					at, err := atFlag(c)
					if err != nil {
						return err
					}
					ml, err := os.ReadFile(c.String("file"))
					if err != nil {
						return err
					}
					anchor, err := os.ReadFile(c.String("anchor"))
					if err != nil {
						return err
					}
					var t icao9303.Trust
					n, err := t.AddMasterList(ml, anchor, at)
					if err != nil {
						return fmt.Errorf("%s: %w", c.String("file"), err)
					}
					fmt.Fprintf(c.App.Writer, "%d CSCAs from %d countries\n", n, len(t.Countries))
					for _, s := range t.Skipped {
						fmt.Fprintf(c.App.ErrWriter, "left out: %s\n", s)
					}
					return nil
				},
			},
		},
	}
}

func atFlag(c *cli.Context) (time.Time, error) {
	if c.String("at") == "" {
		return time.Now(), nil
	}
	at, err := time.Parse(time.RFC3339, c.String("at"))
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q is not an RFC 3339 time (2026-12-02T12:00:00Z)", c.String("at"))
	}
	return at, nil
}

var dumpFile = regexp.MustCompile(`^EF_DG([1-9]|1[0-6])\.bin$`)

func verifyDocument(c *cli.Context) error {
	at, err := atFlag(c)
	if err != nil {
		return err
	}
	d := docverify.Document{DataGroups: map[int][]byte{}, At: at}
	switch {
	case c.String("dir") != "" && c.String("sod") == "" && len(c.StringSlice("dg")) == 0:
		if d.SOD, err = os.ReadFile(filepath.Join(c.String("dir"), "EF_SOD.bin")); err != nil {
			return err
		}
		entries, err := os.ReadDir(c.String("dir"))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if m := dumpFile.FindStringSubmatch(e.Name()); m != nil {
				n, _ := strconv.Atoi(m[1])
				if d.DataGroups[n], err = os.ReadFile(filepath.Join(c.String("dir"), e.Name())); err != nil {
					return err
				}
			}
		}
	case c.String("sod") != "" && c.String("dir") == "":
		if d.SOD, err = os.ReadFile(c.String("sod")); err != nil {
			return err
		}
		for _, dg := range c.StringSlice("dg") {
			num, file, ok := strings.Cut(dg, "=")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 1 || n > 16 {
				return fmt.Errorf("--dg %q: want N=FILE with N from 1 to 16", dg)
			}
			if d.DataGroups[n], err = os.ReadFile(file); err != nil {
				return err
			}
		}
	default:
		return errors.New("give --dir DUMP, or --sod FILE with --dg N=FILE for each data group")
	}
	if c.String("aa-challenge") != "" {
		if d.AAChallenge, err = hex.DecodeString(c.String("aa-challenge")); err != nil {
			return fmt.Errorf("--aa-challenge is not hex: %v", err)
		}
		if c.String("aa-signature") == "" {
			return errors.New("--aa-challenge needs --aa-signature FILE")
		}
		if d.AASignature, err = os.ReadFile(c.String("aa-signature")); err != nil {
			return err
		}
	}
	t, err := trustFrom(c, at)
	if err != nil {
		return err
	}
	v := icao9303.Verify(t, d)
	for _, ch := range v.Checks {
		line := ch.Name + ": " + ch.Result.String()
		if ch.Detail != "" {
			line += ": " + ch.Detail
		}
		fmt.Fprintln(c.App.Writer, line)
	}
	if !v.Genuine {
		fmt.Fprintf(c.App.Writer, "verdict: rejected: %s\n", v.Reason)
		return cli.Exit("", 1)
	}
	fmt.Fprintln(c.App.Writer, "verdict: genuine")
	return nil
}

func trustFrom(c *cli.Context, at time.Time) (*icao9303.Trust, error) {
	t := &icao9303.Trust{}
	for _, p := range c.StringSlice("csca") {
		if err := t.AddCSCAPath(p); err != nil {
			return nil, fmt.Errorf("--csca: %w", err)
		}
	}
	mls, anchors := c.StringSlice("masterlist"), c.StringSlice("masterlist-anchor")
	if len(mls) != len(anchors) {
		return nil, fmt.Errorf("%d --masterlist and %d --masterlist-anchor: give one anchor per master list", len(mls), len(anchors))
	}
	for i := range mls {
		ml, err := os.ReadFile(mls[i])
		if err != nil {
			return nil, err
		}
		anchor, err := os.ReadFile(anchors[i])
		if err != nil {
			return nil, err
		}
		if _, err := t.AddMasterList(ml, anchor, at); err != nil {
			return nil, fmt.Errorf("%s: %w", mls[i], err)
		}
	}
	for _, f := range c.StringSlice("crl") {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := t.AddCRL(b); err != nil {
			return nil, fmt.Errorf("--crl %s: %w", f, err)
		}
	}
	if len(t.CSCAs) == 0 {
		return nil, errors.New("no CSCA: give --csca or --masterlist with its --masterlist-anchor")
	}
	return t, nil
}
