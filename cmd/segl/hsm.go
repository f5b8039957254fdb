package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/hsm"
)

func hsmCommand() *cli.Command {
	return &cli.Command{
		Name:  "hsm",
		Usage: "inspect and prepare the HSM",
		Subcommands: []*cli.Command{
			{
				Name:   "info",
				Usage:  "show the module, the token, whether the PIN works and which mechanisms Segl needs",
				Action: hsmInfo,
			},
			{
				Name:  "init-token",
				Usage: "initialise the module's free token (SoftHSM) with a label, the SO PIN and the user PIN from their files",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "label", Usage: "the new token's label (1 to 32 bytes)", Required: true},
				},
				Action: hsmInitToken,
			},
		},
	}
}

func hsmInfo(c *cli.Context) error {
	module, token := envModule(), envToken()
	info, err := hsm.Probe(module, token)
	if err != nil {
		return err
	}
	out := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintf(out, "module:\t%s\n", info.Module)
	fmt.Fprintf(out, "library:\t%s (Cryptoki %s)\n", info.Library, info.Cryptoki)
	fmt.Fprintf(out, "token:\t%s\n", info.Label)
	fmt.Fprintf(out, "serial:\t%s\n", info.Serial)
	fmt.Fprintf(out, "manufacturer:\t%s\n", info.Manufacturer)
	fmt.Fprintf(out, "model:\t%s\n", info.Model)
	var loginErr error
	pin, err := hsm.PINFromEnv(hsm.EnvPIN, hsm.EnvPINFile)
	switch {
	case errors.Is(err, hsm.ErrNoPIN):
		fmt.Fprintf(out, "login:\tnot tried: %v\n", err)
	case err != nil:
		loginErr = err
		fmt.Fprintf(out, "login:\tnot tried: %v\n", err)
	default:
		cfg := hsm.Config{Module: module, Token: token, PIN: pin, Sessions: 1}
		if ks, err := hsm.Open(cfg); err != nil {
			loginErr = err
			fmt.Fprintf(out, "login:\tFAILED: %v\n", err)
		} else {
			ks.Close()
			fmt.Fprintf(out, "login:\tok\n")
		}
	}
	// The token's PIN flags as they are after this login (a good login
	// clears the failed-attempt flag).
	if after, err := hsm.Probe(module, token); err == nil {
		info.Flags = after.Flags
	}
	pinState := "ok"
	switch {
	case info.PINLocked():
		pinState = "LOCKED: the security officer must unlock it"
	case info.PINFinalTry():
		pinState = "one attempt left"
	case info.PINCountLow():
		pinState = "the last login failed"
	}
	fmt.Fprintf(out, "user PIN:\t%s\n", pinState)
	fmt.Fprintf(out, "wrapped keys:\t%s\n", info.WrapWith)
	fmt.Fprintf(out, "encrypted PSKC seeds:\t%s\n", info.SealedImport)
	fmt.Fprintf(out, "mechanisms:\t\n")
	missing := 0
	for _, m := range hsm.Mechanisms {
		state := "present"
		if !info.Mechanisms[m.ID] {
			state = "MISSING"
			missing++
		}
		fmt.Fprintf(out, "  %s\t%s\t%s\n", state, m.Name, m.Purpose)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if missing > 0 {
		fmt.Fprintf(c.App.ErrWriter, "segl: %d mechanisms Segl uses are missing; the features that need them will fail\n", missing)
	}
	if loginErr != nil {
		return cli.Exit("", 1)
	}
	return nil
}

func hsmInitToken(c *cli.Context) error {
	so, err := hsm.PINFromEnv(hsm.EnvSOPIN, hsm.EnvSOPINFile)
	if err != nil {
		return fmt.Errorf("security officer PIN: %w", err)
	}
	user, err := hsm.PINFromEnv(hsm.EnvPIN, hsm.EnvPINFile)
	if err != nil {
		return fmt.Errorf("user PIN: %w", err)
	}
	label := c.String("label")
	if err := hsm.InitToken(envModule(), label, so, user); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "initialised token %q in %s\n", label, envModule())
	return nil
}

func envModule() string { return envOr(hsm.EnvModule, hsm.DefaultModule) }
func envToken() string  { return envOr(hsm.EnvToken, hsm.DefaultToken) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// openKeystore opens the token the environment names.
func openKeystore() (*hsm.Keystore, error) {
	cfg, err := hsm.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return hsm.Open(cfg)
}
