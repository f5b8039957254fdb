package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/tokens/piv"
)

// segl piv: YubiKey PIV cards.

func pivCommand() *cli.Command {
	return &cli.Command{
		Name:  "piv",
		Usage: "YubiKey PIV cards: enrol a user's card, list and revoke cards, check attestations",
		Subcommands: []*cli.Command{
			{
				Name: "enrol",
				Usage: "make a key on the user's YubiKey (in front of you, through PC/SC), prove it with the card's attestation, " +
					"have segld enrol it and certify the key, and write the certificate to the slot; " +
					"a card with the factory's management key gets a random one, stored on the card under the PIN",
				Flags:  append([]cli.Flag{&cli.StringFlag{Name: "user", Usage: "the user's id", Required: true}}, cardFlags("9a")...),
				Action: enrolPIV,
			},
			{
				Name: "sign-challenge",
				Usage: "play the front end of a piv factor: have the card sign an order's piv challenge (from /rp/v1/challenge) " +
					"and print the value to send as the factor's value",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "challenge", Usage: "the challenge, hex (32 bytes)", Required: true},
					&cli.StringFlag{Name: "slot", Value: "9a", Usage: "the slot whose key signs"},
					&cli.StringFlag{Name: "reader", Usage: "the reader's PC/SC name (default: the one reader with a card)"},
					&cli.StringFlag{Name: "pin-file", Usage: "a file holding the card's PIN", EnvVars: []string{"SEGL_PIV_PIN_FILE"}},
				},
				Action: func(c *cli.Context) error {
					challenge, err := hex.DecodeString(c.String("challenge"))
					if err != nil || len(challenge) != 32 {
						return fmt.Errorf("--challenge: want 32 bytes in hex, as /rp/v1/challenge gives them")
					}
					var pin string
					if f := c.String("pin-file"); f != "" {
						if pin, err = readSecretFile(f); err != nil {
							return fmt.Errorf("--pin-file: %w", err)
						}
					}
					card, err := piv.Open(c.String("reader"))
					if err != nil {
						return err
					}
					defer card.Close()
					sig, err := card.Sign(c.String("slot"), pin, piv.ChallengeDigest(challenge))
					if err != nil {
						return fmt.Errorf("card %d: %w", card.Serial, err)
					}
					fmt.Fprintln(c.App.Writer, base64.StdEncoding.EncodeToString(sig))
					return nil
				},
			},
			{
				Name:   "list",
				Usage:  "list enrolled cards, revoked ones too",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "user", Usage: "one user's cards"}},
				Action: listCards("/admin/v1/piv", "user", "userId"),
			},
			{
				Name:  "revoke",
				Usage: "revoke an enrolled card: it completes no order from then on",
				Flags: []cli.Flag{&cli.UintFlag{Name: "serial", Usage: "the card's serial", Required: true}},
				Action: func(c *cli.Context) error {
					var v admin.PIVView
					if err := call(c, "POST", fmt.Sprintf("/admin/v1/piv/%d/revoke", c.Uint("serial")), nil, &v); err != nil {
						return err
					}
					printPIV(c, &v)
					return nil
				},
			},
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
		var err error
		if v.Extra, err = readRoots(f); err != nil {
			return fmt.Errorf("--roots: %w", err)
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

// listCards prints the cards at path, of the one holder the flag names
// (the query parameter param) or of all.
func listCards(path, flag, param string) cli.ActionFunc {
	return func(c *cli.Context) error {
		p := path
		if h := c.String(flag); h != "" {
			p += "?" + param + "=" + url.QueryEscape(h)
		}
		var out struct{ Cards []admin.PIVView }
		if err := call(c, "GET", p, nil, &out); err != nil {
			return err
		}
		for _, v := range out.Cards {
			printPIV(c, &v)
		}
		return nil
	}
}

func printPIV(c *cli.Context, v *admin.PIVView) {
	state := "enrolled"
	if v.Revoked != "" {
		state = "revoked " + v.Revoked + " by " + v.RevokedBy
	}
	holder := "user " + v.UserID
	if v.OfficerID != "" {
		holder = "officer " + v.OfficerID
	}
	fmt.Fprintf(c.App.Writer, "card %d\t%s\tslot %s\tfirmware %s\tpin-policy %s\ttouch-policy %s\t%s\t%s\n",
		v.Serial, holder, v.Slot, v.Firmware, v.PINPolicy, v.TouchPolicy, v.FormFactor, state)
}

func enrolPIV(c *cli.Context) error {
	return enrolCard(c, "/admin/v1/piv", c.String("user"))
}

// enrolCard makes the key on the card in front of the officer, checks the
// card's attestation here as segld will (so that a card that cannot be
// enrolled is named before anything is sent), has segld enrol it (at
// path, for user, or the calling officer when user is empty), and writes
// a user's certificate to the slot.
func enrolCard(c *cli.Context, path, user string) error {
	pin, err := readSecretFile(c.String("pin-file"))
	if err != nil {
		return fmt.Errorf("--pin-file: %w", err)
	}
	slot := c.String("slot")
	if _, err := piv.Slot(slot); err != nil {
		return fmt.Errorf("--slot: %w", err)
	}
	var v piv.Verifier
	if f := c.String("attestation-roots"); f != "" {
		if v.Extra, err = readRoots(f); err != nil {
			return fmt.Errorf("--attestation-roots: %w", err)
		}
	}
	card, err := piv.Open(c.String("reader"))
	if err != nil {
		return err
	}
	defer card.Close()
	// Generating replaces the slot's key: a card enrolled now would lose
	// the key it is enrolled with, so segld is asked first.
	var known admin.PIVView
	var apiErr *apiError
	err = call(c, "GET", fmt.Sprintf("/admin/v1/piv/%d", card.Serial), nil, &known)
	switch {
	case err == nil && known.Revoked == "":
		holder := "user " + known.UserID
		if known.OfficerID != "" {
			holder = "officer " + known.OfficerID
		}
		return fmt.Errorf("card %d is enrolled already, to %s: revoke it first (segl piv revoke --serial %d); the card was not changed", card.Serial, holder, card.Serial)
	case err != nil && !(errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound):
		return fmt.Errorf("card %d: ask segld whether it is enrolled: %w", card.Serial, err)
	}
	mgm, err := card.ManagementKey(pin)
	if err != nil {
		return err
	}
	defer clear(mgm)
	pub, err := card.Generate(mgm, slot, piv.KeySpec{Algorithm: c.String("algorithm"), PINPolicy: c.String("pin-policy"), TouchPolicy: c.String("touch-policy")})
	if err != nil {
		return err
	}
	f9, slotCert, err := card.Attestation(slot)
	if err != nil {
		return err
	}
	a, err := v.Verify(f9, slotCert)
	if err == nil {
		err = a.Binds(pub)
	}
	if err != nil {
		return fmt.Errorf("card %d: %w", card.Serial, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	var view admin.PIVView
	if err := call(c, "POST", path, admin.PIVEnrolment{UserID: user, Slot: slot, PublicKey: spki, Attestation: f9, SlotAttestation: slotCert}, &view); err != nil {
		return fmt.Errorf("card %d: %w", card.Serial, err)
	}
	holder, note := "user "+view.UserID, "the certificate is on the card"
	if view.OfficerID != "" {
		holder, note = "officer "+view.OfficerID, "its key signs the officer's approvals"
	} else if err := card.WriteCertificate(mgm, slot, view.Certificate); err != nil {
		return fmt.Errorf("card %d is enrolled, but %w: run segl piv enrol again, or revoke it", card.Serial, err)
	}
	fmt.Fprintf(c.App.Writer, "enrolled card %d (firmware %s, %s) slot %s for %s: pin-policy %s, touch-policy %s; %s\n",
		view.Serial, view.Firmware, view.FormFactor, view.Slot, holder, view.PINPolicy, view.TouchPolicy, note)
	return nil
}

// cardFlags are segl piv enrol's and segl officers piv enrol's.
func cardFlags(slot string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "slot", Value: slot, Usage: "the slot: 9a (authentication) or 9c (signature)"},
		&cli.StringFlag{Name: "reader", Usage: "the reader's PC/SC name (default: the one reader with a card)"},
		&cli.StringFlag{Name: "algorithm", Value: "p256", Usage: "p256 or p384"},
		&cli.StringFlag{Name: "pin-policy", Value: "once", Usage: "once or always: when the card asks for its PIN"},
		&cli.StringFlag{Name: "touch-policy", Value: "never", Usage: "never, always or cached: when the card asks for a touch"},
		&cli.StringFlag{Name: "pin-file", Usage: "a file holding the card's PIN (one trailing newline is ignored)", Required: true,
			EnvVars: []string{"SEGL_PIV_PIN_FILE"}},
		&cli.StringFlag{Name: "attestation-roots", Usage: "a PEM file of roots to trust besides Yubico's, for the check here before segld's"},
	}
}

// segl officers: the officers' own cards.
func officersCommand() *cli.Command {
	return &cli.Command{
		Name:  "officers",
		Usage: "officers' own YubiKey PIV cards, whose keys sign their approvals",
		Subcommands: []*cli.Command{{
			Name:  "piv",
			Usage: "the calling officer's YubiKey PIV card",
			Subcommands: []*cli.Command{
				{
					Name:   "enrol",
					Usage:  "register your own card (in front of you, through PC/SC), its key made on it and proven by its attestation",
					Flags:  cardFlags("9c"),
					Action: func(c *cli.Context) error { return enrolCard(c, "/admin/v1/officers/piv", "") },
				},
				{
					Name:   "list",
					Usage:  "list officers' cards, revoked ones too",
					Flags:  []cli.Flag{&cli.StringFlag{Name: "officer", Usage: "one officer's cards"}},
					Action: listCards("/admin/v1/officers/piv", "officer", "officerId"),
				},
			},
		}},
	}
}

func readRoots(f string) (*x509.CertPool, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", f)
	}
	return p, nil
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
