package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/app"
)

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "users' code-app devices, through the admin API",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list devices (of one user with --user), revoked ones too",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's"}},
				Action: func(c *cli.Context) error {
					path := "/admin/v1/devices"
					if u := c.String("user"); u != "" {
						path += "?userId=" + url.QueryEscape(u)
					}
					var out app.Devices
					if err := call(c, "GET", path, nil, &out); err != nil {
						return err
					}
					return printDevices(c, out.Devices)
				},
			},
			{
				Name:  "revoke",
				Usage: "revoke a device: its key stops working at once",
				Flags: []cli.Flag{&cli.StringFlag{Name: "id", Usage: "the device id", Required: true}},
				Action: func(c *cli.Context) error {
					var out app.Revoked
					if err := call(c, "POST", "/admin/v1/devices/"+url.PathEscape(c.String("id"))+"/revoke", nil, &out); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "device %s revoked at %s\n", out.ID, out.Revoked.Local().Format(time.DateTime))
					return nil
				},
			},
		},
	}
}
