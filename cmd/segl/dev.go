package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/orders"
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "helpers for the development setup of `segld dev` (make run)",
		Subcommands: []*cli.Command{{
			Name:  "rp-cert",
			Usage: "write a relying party's client certificate and key from the development TLS CA",
			Description: "Only for a directory segld dev made: outside development, the bank's own PKI issues relying " +
				"parties' certificates. Register the certificate with `segl rp create --id ID --name NAME --cert OUT/ID.pem`.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "id", Usage: "the relying party's ID, also the files' names", Required: true},
				&cli.StringFlag{Name: "out", Usage: "the directory to write ID.pem and ID.key into (made if missing)", Required: true},
				&cli.StringFlag{Name: "dir", Usage: "the segld dev directory (default: the one SEGL_CA is in, else .segl)"},
			},
			Action: func(c *cli.Context) error {
				id := c.String("id")
				if err := orders.CheckUserID(id); err != nil {
					return fmt.Errorf("--id: %w", err)
				}
				dir := c.String("dir")
				if dir == "" {
					dir = ".segl"
					if ca := os.Getenv("SEGL_CA"); ca != "" {
						dir = filepath.Dir(filepath.Dir(ca))
					}
				}
				out := c.String("out")
				if err := os.MkdirAll(out, 0o700); err != nil {
					return err
				}
				cert, key := filepath.Join(out, id+".pem"), filepath.Join(out, id+".key")
				if err := devenv.ClientCertificate(dir, "Development relying party "+id, cert, key); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "wrote %s and %s (mode 0600)\nregister it: segl rp create --id %s --name NAME --cert %s\n", cert, key, id, cert)
				return nil
			},
		}},
	}
}
