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
				Name: "activate",
				Usage: "activate this device: --user U asks for the code-card challenge; then --activation ID with the card code completes it. " +
					"With --method passport (remote reactivation), --user U asks for the chip's challenge; then --activation ID with the test document's " +
					"--dir, --aa-key and --challenge completes it, and every other device of the user is revoked",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Usage: "start an activation for this user"},
					&cli.StringFlag{Name: "method", Usage: "with --user: what proves possession besides the password, codecard or passport", Value: app.MethodCodeCard},
					&cli.StringFlag{Name: "activation", Usage: "complete this activation"},
					&cli.StringFlag{Name: "card-code", Usage: "the code beside the key number on the code card"},
					&cli.StringFlag{Name: "dir", Usage: "a passport activation's test document dump: EF_SOD.bin, EF_DG1.bin, EF_DG15.bin (EF_DG14.bin for an EC key)"},
					&cli.StringFlag{Name: "aa-key", Usage: "the test chip's private key (PEM, PKCS #8), which signs --challenge; test documents only"},
					&cli.StringFlag{Name: "challenge", Usage: "the document challenge the passport activation's start printed (16 hex digits)"},
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
		return fmt.Errorf("order %s: documentChallenge is not hex: %v", o.OrderRef, err)
	}
	chip, err := chipAnswer(c.String("dir"), c.String("aa-key"), challenge)
	if err != nil {
		return err
	}
	r, err := cl.SubmitDocument(c.Context, d, app.Document{OrderRef: o.OrderRef, SOD: chip.SOD, DataGroups: chip.DataGroups, AASignature: chip.AASignature})
	if err != nil {
		return err
	}
	if !r.Accepted {
		return cli.Exit(fmt.Sprintf("order %s: the passport check was not accepted; it is %s %s", r.OrderRef, r.Status, r.HintCode), 1)
	}
	fmt.Fprintf(c.App.Writer, "order %s: %s %s\n", r.OrderRef, r.Status, r.HintCode)
	return nil
}

// chipAnswer is what a test document's chip gives for challenge, as the
// app relays it: the EF.SOD of the dump in dir and the data groups a
// passport check reads (DG1, DG15, and DG14 when the dump has one: an EC
// chip key), and the signature over challenge by the chip's key in
// keyPath (PEM, PKCS #8), made as the chip makes it (aa.Sign).
func chipAnswer(dir, keyPath string, challenge []byte) (*app.DocumentFiles, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("--aa-key: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("--aa-key %s holds no PEM key", keyPath)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--aa-key: %w", err)
	}
	sig, err := aa.Sign(key, challenge)
	if err != nil {
		return nil, fmt.Errorf("--aa-key: %w", err)
	}
	files := &app.DocumentFiles{DataGroups: map[string]string{}, AASignature: base64.StdEncoding.EncodeToString(sig)}
	sod, err := os.ReadFile(filepath.Join(dir, "EF_SOD.bin"))
	if err != nil {
		return nil, fmt.Errorf("--dir: %w", err)
	}
	files.SOD = base64.StdEncoding.EncodeToString(sod)
	for _, n := range []int{1, 14, 15} {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("EF_DG%d.bin", n)))
		if errors.Is(err, fs.ErrNotExist) && n == 14 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--dir: %w", err)
		}
		files.DataGroups[fmt.Sprint(n)] = base64.StdEncoding.EncodeToString(b)
	}
	return files, nil
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
		return startActivation(c, cl)
	case c.String("activation") != "" && c.String("user") == "":
	default:
		return errors.New("give --user U (and --method) to start an activation, or --activation ID with --password-file, --pin-file and " +
			"--card-code (a code card) or --dir, --aa-key and --challenge (a passport) to complete it")
	}
	if c.IsSet("method") {
		return errors.New("--method is for the start (--user): an activation is completed by the method it was started with, " +
			"--card-code for a code card, --dir, --aa-key and --challenge for a passport")
	}
	passport := c.String("dir") != "" || c.String("aa-key") != "" || c.String("challenge") != ""
	switch {
	case passport && c.String("card-code") != "":
		return errors.New("give --card-code (a code-card activation) or --dir, --aa-key and --challenge (a passport activation), not both")
	case passport && (c.String("dir") == "" || c.String("aa-key") == "" || c.String("challenge") == ""):
		return errors.New("completing a passport activation needs --dir, --aa-key and --challenge, all three")
	case !passport && c.String("card-code") == "":
		return errors.New("completing an activation needs --card-code (a code card) or --dir, --aa-key and --challenge (a passport)")
	case c.String("password-file") == "" || c.String("pin-file") == "":
		return errors.New("completing an activation needs --password-file and --pin-file")
	}
	// The chip's answer is made first too: a challenge mistyped, or a dump
	// or key that cannot be read, would otherwise spend the activation
	// and count as a failed factor.
	var chip *app.DocumentFiles
	if passport {
		challenge, err := hex.DecodeString(c.String("challenge"))
		if err != nil || len(challenge) != 8 {
			return fmt.Errorf("--challenge %q is not the 16 hex digits the start printed", c.String("challenge"))
		}
		if chip, err = chipAnswer(c.String("dir"), c.String("aa-key"), challenge); err != nil {
			return err
		}
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
		Document: chip, DeviceName: c.String("device-name"), Replace: c.String("replace"),
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
	if passport {
		fmt.Fprintf(c.App.Writer, "every other device of %s is revoked (remote reactivation with a passport)\n", d.User)
	}
	return nil
}

// startActivation asks segld for an activation's challenge and prints it,
// one line a script can read: the code card's entry, or the chip's
// challenge.
func startActivation(c *cli.Context, cl *appclient.Client) error {
	for _, f := range []string{"card-code", "dir", "aa-key", "challenge", "password-file", "replace"} {
		if c.String(f) != "" {
			return fmt.Errorf("--%s completes an activation (with --activation ID); --user starts one", f)
		}
	}
	method := c.String("method")
	if method != app.MethodCodeCard && method != app.MethodPassport {
		return fmt.Errorf("--method %q: codecard or passport", method)
	}
	ch, err := cl.StartActivationWith(c.Context, app.ActivationStart{UserID: c.String("user"), Method: method})
	if err != nil {
		return err
	}
	switch method {
	case app.MethodPassport:
		if ch.DocumentChallenge == "" {
			return fmt.Errorf("activation %s: segld answered no documentChallenge for the passport method", ch.ActivationID)
		}
		fmt.Fprintf(c.App.Writer, "activation %s: passport, document challenge %s\n", ch.ActivationID, ch.DocumentChallenge)
	default:
		fmt.Fprintf(c.App.Writer, "activation %s: card %s, key number %s\n", ch.ActivationID, ch.CardSerial, ch.KeyNumber)
	}
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
