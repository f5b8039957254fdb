package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/tokens/codecard"
)

func codecardsCommand() *cli.Command {
	return &cli.Command{
		Name:  "codecards",
		Usage: "issue, list and revoke NemID-style code cards through the admin API",
		Subcommands: []*cli.Command{
			{
				Name:  "issue",
				Usage: "issue a card for a user and write it as a PDF for printing",
				Description: "The codes are computed in the HSM and sent once, to this command, over mutual TLS; they are " +
					"written to the PDF only. An existing file is never overwritten.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Usage: "the user's ID", Required: true},
					&cli.StringFlag{Name: "out", Usage: "the PDF to write (default codecard-SERIAL.pdf)"},
				},
				Action: func(c *cli.Context) error {
					if err := checkOut(c.String("out")); err != nil {
						return err
					}
					var card admin.IssuedCard
					if err := call(c, "POST", "/admin/v1/codecards", map[string]string{"userId": c.String("user")}, &card); err != nil {
						return err
					}
					return writeCard(c, "issued", &card)
				},
			},
			{
				Name:  "print",
				Usage: "print a card the server issued by itself when the old one ran low (once)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "serial", Usage: "the card's serial number (10 digits)", Required: true},
					&cli.StringFlag{Name: "out", Usage: "the PDF to write (default codecard-SERIAL.pdf)"},
				},
				Action: func(c *cli.Context) error {
					if err := checkOut(c.String("out")); err != nil {
						return err
					}
					var card admin.IssuedCard
					if err := call(c, "POST", "/admin/v1/codecards/"+url.PathEscape(c.String("serial"))+"/print", nil, &card); err != nil {
						return err
					}
					return writeCard(c, "printed", &card)
				},
			},
			{
				Name:  "list",
				Usage: "list code cards, without their codes",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's"}},
				Action: func(c *cli.Context) error {
					var out struct{ Codecards []admin.CardView }
					path := "/admin/v1/codecards"
					if u := c.String("user"); u != "" {
						path += "?userId=" + url.QueryEscape(u)
					}
					if err := call(c, "GET", path, nil, &out); err != nil {
						return err
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "SERIAL\tUSER\tSTATUS\tUNSPENT\tPRINTED")
					for _, card := range out.Codecards {
						fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%v\n", card.Serial, card.UserID, card.Status, card.Unspent, card.Printed)
					}
					return w.Flush()
				},
			},
			{
				Name:  "revoke",
				Usage: "revoke a card at once",
				Flags: []cli.Flag{&cli.StringFlag{Name: "serial", Usage: "the card's serial number (10 digits)", Required: true}},
				Action: func(c *cli.Context) error {
					var card admin.CardView
					if err := call(c, "POST", "/admin/v1/codecards/"+url.PathEscape(c.String("serial"))+"/revoke", nil, &card); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "code card %s of %s: %s\n", card.Serial, card.UserID, card.Status)
					return nil
				},
			},
		},
	}
}

// checkOut refuses an existing output before the server hands out codes.
func checkOut(out string) error {
	if out == "" {
		return nil
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out %s exists already: a card is never written over a file", out)
	}
	return nil
}

// writeCard renders a card's codes as a PDF, the only place they go.
func writeCard(c *cli.Context, verb string, card *admin.IssuedCard) error {
	pairs := make([]codecard.Pair, len(card.Entries))
	for i, e := range card.Entries {
		pairs[i] = codecard.Pair{Key: e.Key, Code: e.Code}
	}
	pdf, err := codecard.PDF(card.Serial, card.Name, pairs)
	if err != nil {
		return fmt.Errorf("card %s was %s but not rendered (revoke it): %w", card.Serial, verb, err)
	}
	out := c.String("out")
	if out == "" {
		out = "codecard-" + card.Serial + ".pdf"
	}
	if err := writeExclusive(out, pdf); err != nil {
		return fmt.Errorf("card %s was %s but not written (revoke it): %w", card.Serial, verb, err)
	}
	fmt.Fprintf(c.App.Writer, "%s code card %s for %s (%s), status %s\nwritten to %s\n", verb, card.Serial, card.UserID, card.Name, card.Status, out)
	return nil
}
