package main

import (
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/api"
)

func smsCommand() *cli.Command {
	return &cli.Command{
		Name:  "sms",
		Usage: "the SMS sent through the gateways, through the admin API",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list SMS attempts, newest first: time, masked number, adapter, state; never the code",
			Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's"}},
			Action: func(c *cli.Context) error {
				path := "/admin/v1/sms"
				if u := c.String("user"); u != "" {
					path += "?userId=" + url.QueryEscape(u)
				}
				var out struct{ SMS []admin.SMSView }
				if err := call(c, "GET", path, nil, &out); err != nil {
					return err
				}
				w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TIME\tUSER\tTO\tADAPTER\tSTATE\tORDER")
				for _, m := range out.SMS {
					state := m.State
					if m.Reason != "" && (m.State == "failed" || m.State == "unknown") {
						state += " (" + m.Reason + ")"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Created.Local().Format(time.DateTime), m.UserID, m.To, m.Adapter, state, m.OrderRef)
				}
				return w.Flush()
			},
		}},
	}
}

func pluginsCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugins",
		Usage: "segld's plugins (the issuer's adapters), through the admin API",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list the plugins: name, contract, binary checksum, state, pid, restarts, last error",
			Action: func(c *cli.Context) error {
				var out struct{ Plugins []api.PluginView }
				if err := call(c, "GET", "/admin/v1/plugins", nil, &out); err != nil {
					return err
				}
				w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tCONTRACT\tSHA256\tSTATE\tPID\tRESTARTS\tLAST ERROR")
				for _, p := range out.Plugins {
					state := p.State
					if p.State == "broken" {
						state += " until " + p.BrokenUntil.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", p.Name, p.Contract, short(p.SHA256), state, p.PID, p.Restarts, p.LastError)
				}
				return w.Flush()
			},
		}},
	}
}

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}
