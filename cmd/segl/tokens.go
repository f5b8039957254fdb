package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/pskc"
)

func tokensCommand() *cli.Command {
	serial := &cli.StringFlag{Name: "serial", Usage: "the token's serial number", Required: true}
	change := func(action string, flags ...cli.Flag) *cli.Command {
		return &cli.Command{
			Name:  action,
			Flags: append([]cli.Flag{serial}, flags...),
			Action: func(c *cli.Context) error {
				var v admin.TokenView
				req := admin.TokenChange{Action: action, UserID: c.String("user"), OTP1: c.String("otp1"), OTP2: c.String("otp2")}
				if err := call(c, "POST", "/admin/v1/tokens/"+url.PathEscape(c.String("serial")), req, &v); err != nil {
					return err
				}
				printToken(c, &v, map[string]string{"assign": "assigned", "unassign": "unassigned", "resync": "resynchronised",
					"unblock": "unblocked", "delete": "deleted"}[action])
				return nil
			},
		}
	}
	assign := change("assign", &cli.StringFlag{Name: "user", Required: true, Usage: "the user's ID"})
	assign.Usage = "give a token to a user"
	unassign := change("unassign")
	unassign.Usage = "take a token back from its user"
	resync := change("resync", &cli.StringFlag{Name: "otp1", Required: true, Usage: "a code the token shows now"},
		&cli.StringFlag{Name: "otp2", Required: true, Usage: "the next code it shows (press it again)"})
	resync.Usage = "resynchronise an HOTP token with two consecutive codes"
	unblock := change("unblock")
	unblock.Usage = "lift a token's block after failed codes"
	del := change("delete")
	del.Usage = "delete a token and its wrapped seed"
	return &cli.Command{
		Name:  "tokens",
		Usage: "hardware OTP tokens: import vendors' PSKC batches, assign, resync, unblock",
		Subcommands: []*cli.Command{
			{
				Name:  "import",
				Usage: "import a PSKC batch (RFC 6030) or YubiKeys' Yubico-format CSV, all or nothing",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "file", Usage: "the PSKC file, or the CSV that ykman otp yubiotp --config-output writes", Required: true},
					&cli.StringFlag{Name: "format", Usage: "pskc or yubico-csv (default: yubico-csv for a .csv file, else pskc)"},
					&cli.StringFlag{Name: "psk-file", Usage: "a file holding the pre-shared key of a sealed batch, as raw bytes or hex text"},
					&cli.StringFlag{Name: "password-file", Usage: "a file holding the password of a PBKDF2-sealed batch (one trailing newline is ignored)"},
				},
				Action: tokensImport,
			},
			{
				Name:  "list",
				Usage: "list tokens, without their seeds",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's"}},
				Action: func(c *cli.Context) error {
					path := "/admin/v1/tokens"
					if u := c.String("user"); u != "" {
						path += "?userId=" + url.QueryEscape(u)
					}
					var out struct{ Tokens []admin.TokenView }
					if err := call(c, "GET", path, nil, &out); err != nil {
						return err
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "SERIAL\tKIND\tUSER\tCOUNTER\tFAILURES\tSTATE")
					for _, t := range out.Tokens {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", t.Serial, tokenKind(&t), t.UserID, tokenCounter(&t), t.Failures, tokenState(&t))
					}
					return w.Flush()
				},
			},
			{
				Name:  "show",
				Usage: "show one token, without its seed",
				Flags: []cli.Flag{serial},
				Action: func(c *cli.Context) error {
					var v admin.TokenView
					if err := call(c, "GET", "/admin/v1/tokens/"+url.PathEscape(c.String("serial")), nil, &v); err != nil {
						return err
					}
					printToken(c, &v, "")
					return nil
				},
			},
			assign, unassign, resync, unblock, del,
		},
	}
}

func tokenState(t *admin.TokenView) string {
	if t.Blocked {
		return "blocked until " + t.BlockedUntil
	}
	return "ok"
}

// tokenKind says what a token is: "hotp/sha1, 6 digits", "yubico ccccccbchvth".
func tokenKind(t *admin.TokenView) string {
	if t.Kind == store.TokenYubico {
		return "yubico " + t.PublicID
	}
	return fmt.Sprintf("%s/%s, %d digits", t.Kind, t.Hash, t.Digits)
}

// tokenCounter says where a token's counter stands, in its kind's terms.
func tokenCounter(t *admin.TokenView) string {
	switch {
	case t.Kind == store.TokenHOTP:
		return fmt.Sprintf("next counter %d", t.Counter)
	case t.Counter < 0:
		return "not used yet"
	case t.Kind == store.TokenYubico:
		return fmt.Sprintf("last use %d, session %d", t.Counter>>8, t.Counter&0xff)
	}
	return fmt.Sprintf("last time step %d", t.Counter)
}

// printToken prints a token, after what was done to it ("assigned"), if
// anything.
func printToken(c *cli.Context, t *admin.TokenView, done string) {
	user := "no user"
	if t.UserID != "" {
		user = "user " + t.UserID
	}
	line := fmt.Sprintf("token %s (%s), %s, %s, %s", t.Serial, tokenKind(t), user, tokenCounter(t), tokenState(t))
	if done != "" {
		line = done + " " + line
	}
	fmt.Fprintln(c.App.Writer, line)
}

// plural is "1 token", "3 tokens".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func tokensImport(c *cli.Context) error {
	if c.String("psk-file") != "" && c.String("password-file") != "" {
		return errors.New("give --psk-file or --password-file, not both")
	}
	file, err := os.ReadFile(c.String("file"))
	if err != nil {
		return err
	}
	body, contentType := file, "application/pskc+xml"
	format := c.String("format")
	if format == "" {
		format = "pskc"
		if strings.EqualFold(filepath.Ext(c.String("file")), ".csv") {
			format = "yubico-csv"
		}
	}
	switch format {
	case "pskc":
	case "yubico-csv":
		if c.String("psk-file") != "" || c.String("password-file") != "" {
			return errors.New("a Yubico CSV is not encrypted: drop --psk-file and --password-file")
		}
		contentType = "text/csv"
		defer clear(file)
	default:
		return fmt.Errorf("--format %q: pskc or yubico-csv", format)
	}
	if c.String("psk-file") != "" || c.String("password-file") != "" {
		// A sealed batch travels with what opens it, in the body over
		// mTLS; the key and password are read from files so that they
		// are never on a command line.
		req := map[string]any{"file": file}
		if f := c.String("psk-file"); f != "" {
			k, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("the pre-shared key: %w", err)
			}
			key := pskc.ParseKey(k)
			clear(k)
			req["preSharedKey"] = hex.EncodeToString(key)
			clear(key)
		} else {
			p, err := os.ReadFile(c.String("password-file"))
			if err != nil {
				return fmt.Errorf("the password: %w", err)
			}
			pw := strings.TrimSuffix(strings.TrimSuffix(string(p), "\n"), "\r")
			clear(p)
			if pw == "" {
				return fmt.Errorf("the password file %s is empty", c.String("password-file"))
			}
			req["password"] = pw
		}
		if body, err = json.Marshal(req); err != nil {
			return err
		}
		contentType = "application/json"
		defer clear(body)
	}
	cl, err := newAPIClient()
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", cl.base+"/admin/v1/tokens", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := cl.http.Do(req)
	if err != nil {
		return cl.unreachable(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusCreated {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.ErrorCode == "" {
			return fmt.Errorf("segld answered %s", resp.Status)
		}
		return e
	}
	var out struct{ Tokens []admin.TokenView }
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "imported %s from %s\n", plural(len(out.Tokens), "token"), c.String("file"))
	return nil
}
