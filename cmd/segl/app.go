package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/plugins/docverify/icao9303/aa"
	"github.com/segl/segl/signer/app"
	appclient "github.com/segl/segl/signer/app/client"
)

// segl app is the reference app: the phone, for tests and integrators.

func appCommand() *cli.Command {
	state := &cli.StringFlag{Name: "state", Usage: "the app's state file (device id and its key, sealed under the app PIN)", Value: defaultStatePath()}
	pin := &cli.StringFlag{Name: "pin-file", Usage: "a file holding the app PIN that seals the device key (one trailing newline is ignored)",
		EnvVars: []string{"SEGL_APP_PIN_FILE"}, Required: true}
	signed := func(name, usage string, flags []cli.Flag, act func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, Flags: append([]cli.Flag{state, pin}, flags...), Action: func(c *cli.Context) error {
			cl, err := newAppClient()
			if err != nil {
				return err
			}
			d, err := unlock(c)
			if err != nil {
				return err
			}
			return act(c, cl, d)
		}}
	}
	return &cli.Command{
		Name:  "app",
		Usage: "the reference code app, playing the phone against segld's app API (SEGL_APP_ADDR, SEGL_CA)",
		Description: "Its state (the device id and key, the key sealed under the app PIN with argon2id and AES-GCM) is in --state. " +
			"PINs and passwords come from files, never from flags.",
		Subcommands: []*cli.Command{
			{
				Name:  "activate",
				Usage: "activate this device: --user U asks for the code-card challenge; then --activation ID with the card code completes it",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Usage: "start an activation for this user"},
					&cli.StringFlag{Name: "activation", Usage: "complete this activation"},
					&cli.StringFlag{Name: "card-code", Usage: "the code beside the key number on the code card"},
					&cli.StringFlag{Name: "password-file", Usage: "a file holding the user's password"},
					&cli.StringFlag{Name: "pin-file", Usage: "a file holding the new app PIN (at least 4 characters)", EnvVars: []string{"SEGL_APP_PIN_FILE"}},
					&cli.StringFlag{Name: "device-name", Usage: "the name the user sees in the device list", Value: hostname()},
					&cli.StringFlag{Name: "replace", Usage: "revoke this device of the user's (a reactivation on a new phone)"},
					state,
				},
				Action: activate,
			},
			signed("pending", "list the orders waiting for the user, waiting up to --wait for one",
				[]cli.Flag{&cli.DurationFlag{Name: "wait", Usage: "how long to wait for an order (at most 25s)"},
					&cli.BoolFlag{Name: "json", Usage: "print the answer as JSON"}},
				func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
					if c.Duration("wait") > app.MaxWait || c.Duration("wait") < 0 {
						return fmt.Errorf("--wait %s: at most %s", c.Duration("wait"), app.MaxWait)
					}
					list, err := cl.Pending(c.Context, d, c.Duration("wait"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return json.NewEncoder(c.App.Writer).Encode(app.Pending{Orders: list})
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ORDER\tRELYING PARTY\tKIND\tSHOWN\tPAYMENT\tEXPIRES")
					for _, o := range list {
						shown, _ := base64.StdEncoding.DecodeString(o.UserVisibleData)
						pay := ""
						if o.Payment != nil {
							pay = o.Payment.AmountMinor + " " + o.Payment.Currency + " to " + o.Payment.Payee + " (minor units)"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%q\t%s\t%s\n", o.OrderRef, o.RelyingParty, o.Kind, shown, pay, o.ExpiresAt.Local().Format(time.TimeOnly))
					}
					return w.Flush()
				}),
			signed("approve", "approve an order waiting for the user (the swipe)", decideFlags(), decide(app.DecisionApprove)),
			signed("reject", "reject an order waiting for the user", decideFlags(), decide(app.DecisionReject)),
			signed("scan", "take an order by its QR code (--qr) or its autoStartToken",
				[]cli.Flag{&cli.StringFlag{Name: "qr", Usage: "the QR code's text, segl.…"}, &cli.StringFlag{Name: "auto-start-token", Usage: "the order's autoStartToken"}},
				func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
					if (c.String("qr") == "") == (c.String("auto-start-token") == "") {
						return errors.New("give --qr or --auto-start-token, one of them")
					}
					s, err := cl.Scan(c.Context, d, app.Scan{QRData: c.String("qr"), AutoStartToken: c.String("auto-start-token")})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "order %s is waiting for approval\n", s.OrderRef)
					return nil
				}),
			signed("document", "play the chip of a test document for an order waiting for a passport check: send the dump's files and sign the challenge with --aa-key",
				[]cli.Flag{&cli.StringFlag{Name: "order", Usage: "the order's reference", Required: true},
					&cli.StringFlag{Name: "dir", Usage: "the dump: EF_SOD.bin, EF_DG1.bin, EF_DG15.bin (EF_DG14.bin for an EC key)", Required: true},
					&cli.StringFlag{Name: "aa-key", Usage: "the test chip's private key (PEM, PKCS #8); test documents only", Required: true}},
				playChip),
			signed("devices", "list the user's devices", nil, func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
				ds, err := cl.Devices(c.Context, d)
				if err != nil {
					return err
				}
				return printDevices(c, ds)
			}),
			signed("revoke", "revoke one of the user's devices", []cli.Flag{&cli.StringFlag{Name: "device", Usage: "the device id", Required: true}},
				func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
					r, err := cl.Revoke(c.Context, d, c.String("device"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "device %s revoked at %s\n", r.ID, r.Revoked.Local().Format(time.DateTime))
					return nil
				}),
		},
	}
}

// playChip answers an order's passport challenge as the test document's
// chip would.
func playChip(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
	o, err := cl.Find(c.Context, d, c.String("order"))
	if err != nil {
		return err
	}
	if o.DocumentChallenge == "" {
		return fmt.Errorf("order %s does not wait for a passport check (hint %s)", o.OrderRef, o.HintCode)
	}
	challenge, err := hex.DecodeString(o.DocumentChallenge)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(c.String("aa-key"))
	if err != nil {
		return err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return fmt.Errorf("--aa-key %s holds no PEM key", c.String("aa-key"))
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Errorf("--aa-key: %w", err)
	}
	sig, err := aa.Sign(key, challenge)
	if err != nil {
		return err
	}
	doc := app.Document{OrderRef: o.OrderRef, DataGroups: map[string]string{}, AASignature: base64.StdEncoding.EncodeToString(sig)}
	dir := c.String("dir")
	sod, err := os.ReadFile(filepath.Join(dir, "EF_SOD.bin"))
	if err != nil {
		return err
	}
	doc.SOD = base64.StdEncoding.EncodeToString(sod)
	for _, n := range []int{1, 14, 15} {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("EF_DG%d.bin", n)))
		if errors.Is(err, fs.ErrNotExist) && n == 14 {
			continue
		}
		if err != nil {
			return err
		}
		doc.DataGroups[fmt.Sprint(n)] = base64.StdEncoding.EncodeToString(b)
	}
	r, err := cl.SubmitDocument(c.Context, d, doc)
	if err != nil {
		return err
	}
	if !r.Accepted {
		return cli.Exit(fmt.Sprintf("order %s: the passport check was not accepted; it is %s %s", r.OrderRef, r.Status, r.HintCode), 1)
	}
	fmt.Fprintf(c.App.Writer, "order %s: %s %s\n", r.OrderRef, r.Status, r.HintCode)
	return nil
}

func decideFlags() []cli.Flag {
	return []cli.Flag{&cli.StringFlag{Name: "order", Usage: "the order's reference", Required: true},
		&cli.StringFlag{Name: "user-verification", Usage: "how the key was unlocked: pin or biometric", Value: app.VerifyPIN}}
}

func decide(decision string) func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
	return func(c *cli.Context, cl *appclient.Client, d *appclient.Device) error {
		o, err := cl.Find(c.Context, d, c.String("order"))
		if err != nil {
			return err
		}
		r, err := cl.Decide(c.Context, d, o, decision, c.String("user-verification"))
		if err != nil {
			return err
		}
		if !r.Accepted {
			return cli.Exit(fmt.Sprintf("order %s: not accepted; it is %s %s", r.OrderRef, r.Status, r.HintCode), 1)
		}
		fmt.Fprintf(c.App.Writer, "order %s: %s %s\n", r.OrderRef, r.Status, r.HintCode)
		return nil
	}
}

func activate(c *cli.Context) error {
	cl, err := newAppClient()
	if err != nil {
		return err
	}
	switch {
	case c.String("user") != "" && c.String("activation") == "":
		ch, err := cl.StartActivation(c.Context, c.String("user"))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "activation %s: card %s, key number %s\n", ch.ActivationID, ch.CardSerial, ch.KeyNumber)
		return nil
	case c.String("activation") != "" && c.String("user") == "":
	default:
		return errors.New("give --user U to start an activation, or --activation ID with --card-code, --password-file and --pin-file to complete it")
	}
	if c.String("card-code") == "" || c.String("password-file") == "" || c.String("pin-file") == "" {
		return errors.New("completing an activation needs --card-code, --password-file and --pin-file")
	}
	password, err := readSecretFile(c.String("password-file"))
	if err != nil {
		return fmt.Errorf("--password-file: %w", err)
	}
	pin, err := readSecretFile(c.String("pin-file"))
	if err != nil {
		return fmt.Errorf("--pin-file: %w", err)
	}
	// Everything that could keep the new key from being saved is checked
	// before segld spends the card code and registers the device.
	if err := appclient.CheckPIN([]byte(pin)); err != nil {
		return fmt.Errorf("--pin-file: %w", err)
	}
	if err := checkStateFree(c.String("state"), c.String("replace")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.String("state")), 0o700); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	d, err := cl.CompleteActivation(c.Context, appclient.Activation{ID: c.String("activation"), Password: password, CardCode: c.String("card-code"),
		DeviceName: c.String("device-name"), Replace: c.String("replace"),
		// The reference app keeps its key in a file: it is a software key,
		// and says so (amr swk).
		KeyStorage: app.KeySoftware})
	if err != nil {
		return err
	}
	s, err := appclient.Seal(d, []byte(pin), appclient.DefaultKDF)
	if err != nil {
		return err
	}
	if err := s.Save(c.String("state")); err != nil {
		return fmt.Errorf("the device %s is activated, but its state could not be saved (revoke it with segl devices revoke): %w", d.ID, err)
	}
	fmt.Fprintf(c.App.Writer, "device %s activated for %s\n", d.ID, d.User)
	return nil
}

// checkStateFree refuses to activate over a state file that holds
// another device: its key would be lost, the device still active and
// counted against the user's limit. Reactivating the same device (its id
// given to --replace) may write over it.
func checkStateFree(path, replace string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s, err := appclient.Load(path)
	if err != nil {
		return fmt.Errorf("--state %s exists and cannot be read (%w): move it away, or choose another --state", path, err)
	}
	if replace != s.DeviceID {
		return fmt.Errorf("--state %s holds device %s of %s already: activating over it would lose its key; "+
			"reactivate it with --replace %s, or choose another --state", path, s.DeviceID, s.UserID, s.DeviceID)
	}
	return nil
}

func unlock(c *cli.Context) (*appclient.Device, error) {
	s, err := appclient.Load(c.String("state"))
	if err != nil {
		return nil, err
	}
	pin, err := readSecretFile(c.String("pin-file"))
	if err != nil {
		return nil, fmt.Errorf("--pin-file: %w", err)
	}
	return s.Open([]byte(pin))
}

func newAppClient() (*appclient.Client, error) {
	addr := os.Getenv("SEGL_APP_ADDR")
	if addr == "" {
		return nil, errors.New("SEGL_APP_ADDR is not set: it names segld's app listener, host:port (`. .segl/env` sets it for the development daemon)")
	}
	caPath := os.Getenv("SEGL_CA")
	if caPath == "" {
		return nil, errors.New("SEGL_CA is not set: it names the PEM file of the CA of segld's server certificate")
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("SEGL_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SEGL_CA %s holds no PEM certificate", caPath)
	}
	return appclient.New(addr, pool), nil
}

func defaultStatePath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "app-state.json"
	}
	return filepath.Join(dir, "segl", "app-state.json")
}

func hostname() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "segl app"
}

func printDevices(c *cli.Context, ds []app.Device) error {
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tNAME\tKEY\tCREATED\tLAST USED\tSTATE")
	for _, d := range ds {
		used, state := "-", "active"
		if d.LastUsed != nil {
			used = d.LastUsed.Local().Format(time.DateTime)
		}
		if d.Revoked != nil {
			state = "revoked " + d.Revoked.Local().Format(time.DateTime)
		}
		if d.Current {
			state += " (this one)"
		}
		fmt.Fprintf(w, "%s\t%s\t%q\t%s\t%s\t%s\t%s\n", d.ID, d.UserID, d.Name, d.KeyStorage, d.Created.Local().Format(time.DateTime), used, state)
	}
	return w.Flush()
}
