package main

import (
	"fmt"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/signer/admin"
)

func usersCommand() *cli.Command {
	id := &cli.StringFlag{Name: "id", Usage: "the user's ID", Required: true}
	return &cli.Command{
		Name:  "users",
		Usage: "manage users through segld's admin API (SEGL_ADDR, SEGL_CA, SEGL_CERT, SEGL_KEY)",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "register a user: a signing key made in the HSM, a certificate from the issuer",
				Flags: []cli.Flag{id,
					&cli.StringFlag{Name: "name", Usage: "the user's full name", Required: true},
					&cli.StringFlag{Name: "password-file", Usage: "a file holding the user's personal password"},
					&cli.StringFlag{Name: "phone", Usage: "mobile number in E.164 form, like +4512345678"},
				},
				Action: func(c *cli.Context) error {
					req := admin.NewUser{ID: c.String("id"), Name: c.String("name"), Phone: c.String("phone")}
					if f := c.String("password-file"); f != "" {
						pw, err := readSecretFile(f)
						if err != nil {
							return fmt.Errorf("--password-file: %w", err)
						}
						req.Password = pw
					}
					return adminCall(c, "POST", "/admin/v1/users", req, printUser)
				},
			},
			{
				Name: "show", Usage: "show a user", Flags: []cli.Flag{id},
				Action: func(c *cli.Context) error {
					return adminCall(c, "GET", "/admin/v1/users/"+url.PathEscape(c.String("id")), nil, printUser)
				},
			},
			{
				Name: "list", Usage: "list the users",
				Action: func(c *cli.Context) error {
					var out struct{ Users []admin.UserView }
					if err := call(c, "GET", "/admin/v1/users", nil, &out); err != nil {
						return err
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ID\tNAME\tSTATE\tPASSWORD\tFAILURES")
					for _, u := range out.Users {
						fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\n", u.ID, u.Name, userState(&u), u.HasPassword, u.Failures)
					}
					return w.Flush()
				},
			},
			{
				Name: "disable", Usage: "disable a user", Flags: []cli.Flag{id},
				Action: func(c *cli.Context) error {
					return adminCall(c, "POST", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/disable", nil, printUser)
				},
			},
			{
				Name: "enable", Usage: "enable a user, lifting a block after failed factors", Flags: []cli.Flag{id},
				Action: func(c *cli.Context) error {
					return adminCall(c, "POST", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/enable", nil, printUser)
				},
			},
			{
				Name:  "password",
				Usage: "the user's personal password",
				Subcommands: []*cli.Command{{
					Name:  "set",
					Usage: "set the password from a file",
					Flags: []cli.Flag{id, &cli.StringFlag{Name: "password-file", Usage: "a file holding the password", Required: true}},
					Action: func(c *cli.Context) error {
						pw, err := readSecretFile(c.String("password-file"))
						if err != nil {
							return fmt.Errorf("--password-file: %w", err)
						}
						if err := call(c, "PUT", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/password", map[string]string{"password": pw}, nil); err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "password set for %s\n", c.String("id"))
						return nil
					},
				}},
			},
			{
				Name:  "identity",
				Usage: "the user's identity attributes, which a passport's holder must match",
				Subcommands: []*cli.Command{{
					Name:  "set",
					Usage: "set surname, given names, date of birth and nationality as in the user's passport; they are not shown again",
					Flags: []cli.Flag{id,
						&cli.StringFlag{Name: "surname", Usage: "the surname, as the user writes it (Ørsted, not OERSTED)", Required: true},
						&cli.StringFlag{Name: "given-names", Usage: "the given names, as the user writes them"},
						&cli.StringFlag{Name: "date-of-birth", Usage: "YYYY-MM-DD", Required: true},
						&cli.StringFlag{Name: "nationality", Usage: "ICAO 9303 code: DNK, GBR, D for Germany"},
					},
					Action: func(c *cli.Context) error {
						var u admin.UserView
						body := admin.Identity{Surname: c.String("surname"), GivenNames: c.String("given-names"), DateOfBirth: c.String("date-of-birth"),
							Nationality: c.String("nationality")}
						if err := call(c, "PUT", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/identity", body, &u); err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "identity of %s set\n", u.ID)
						return nil
					},
				}},
			},
			{
				Name:  "phone",
				Usage: "the user's mobile number, for SMS codes",
				Subcommands: []*cli.Command{{
					Name:  "set",
					Usage: "set the mobile number (E.164, like +4512345678); it is shown masked from then on",
					Flags: []cli.Flag{id, &cli.StringFlag{Name: "phone", Usage: "the mobile number, E.164", Required: true}},
					Action: func(c *cli.Context) error {
						var u admin.UserView
						if err := call(c, "PUT", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/phone", map[string]string{"phone": c.String("phone")}, &u); err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "phone of %s set: %s\n", u.ID, u.Phone)
						return nil
					},
				}, {
					Name:  "delete",
					Usage: "delete the mobile number: no SMS code can be sent to the user",
					Flags: []cli.Flag{id},
					Action: func(c *cli.Context) error {
						if err := call(c, "DELETE", "/admin/v1/users/"+url.PathEscape(c.String("id"))+"/phone", nil, nil); err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "phone of %s deleted\n", c.String("id"))
						return nil
					},
				}},
			},
		},
	}
}

func userState(u *admin.UserView) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.Blocked:
		return "blocked until " + u.BlockedUntil
	}
	return "active"
}

func call(c *cli.Context, method, path string, body, out any) error {
	cl, err := newAPIClient()
	if err != nil {
		return err
	}
	return cl.do(method, path, body, out)
}

func adminCall(c *cli.Context, method, path string, body any, print func(*cli.Context, *admin.UserView)) error {
	var u admin.UserView
	if err := call(c, method, path, body, &u); err != nil {
		return err
	}
	print(c, &u)
	return nil
}

func printUser(c *cli.Context, u *admin.UserView) {
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "id:\t%s\nname:\t%s\n", u.ID, u.Name)
	if u.Phone != "" {
		fmt.Fprintf(w, "phone:\t%s\n", u.Phone)
	}
	fmt.Fprintf(w, "state:\t%s\npassword:\t%v\nidentity:\t%v\nfailures:\t%d\nkey:\t%s\n", userState(u), u.HasPassword, u.HasIdentity, u.Failures, u.KeyID)
	w.Flush()
	fmt.Fprint(c.App.Writer, u.Certificate)
}

func rpCommand() *cli.Command {
	id := &cli.StringFlag{Name: "id", Usage: "the relying party's ID", Required: true}
	print := func(c *cli.Context, rp *admin.RPView) {
		state := "active"
		if rp.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(c.App.Writer, "id:          %s\nname:        %s\nstate:       %s\nsubject:     %s\nfingerprint: %s\n", rp.ID, rp.Name, state, rp.Subject, rp.Fingerprint)
	}
	rpCall := func(c *cli.Context, method, path string, body any) error {
		var rp admin.RPView
		if err := call(c, method, path, body, &rp); err != nil {
			return err
		}
		print(c, &rp)
		return nil
	}
	return &cli.Command{
		Name:  "rp",
		Usage: "manage relying parties (the front ends that start orders) through the admin API",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "register a relying party by its TLS client certificate",
				Flags: []cli.Flag{id, &cli.StringFlag{Name: "name", Usage: "the relying party's name, as officers see it", Required: true},
					&cli.StringFlag{Name: "cert", Usage: "the relying party's client certificate, PEM", Required: true}},
				Action: func(c *cli.Context) error {
					pem, err := os.ReadFile(c.String("cert"))
					if err != nil {
						return fmt.Errorf("--cert: %w", err)
					}
					return rpCall(c, "POST", "/admin/v1/rps", admin.NewRP{ID: c.String("id"), Name: c.String("name"), Cert: string(pem)})
				},
			},
			{
				Name: "list", Usage: "list the relying parties",
				Action: func(c *cli.Context) error {
					var out struct{ RPs []admin.RPView }
					if err := call(c, "GET", "/admin/v1/rps", nil, &out); err != nil {
						return err
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ID\tNAME\tSTATE\tFINGERPRINT")
					for _, rp := range out.RPs {
						state := "active"
						if rp.Disabled {
							state = "disabled"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", rp.ID, rp.Name, state, rp.Fingerprint)
					}
					return w.Flush()
				},
			},
			{
				Name: "disable", Usage: "disable a relying party: its next handshake and request are refused", Flags: []cli.Flag{id},
				Action: func(c *cli.Context) error {
					return rpCall(c, "POST", "/admin/v1/rps/"+url.PathEscape(c.String("id"))+"/disable", nil)
				},
			},
			{
				Name: "enable", Usage: "enable a relying party again", Flags: []cli.Flag{id},
				Action: func(c *cli.Context) error {
					return rpCall(c, "POST", "/admin/v1/rps/"+url.PathEscape(c.String("id"))+"/enable", nil)
				},
			},
		},
	}
}
