// Command segld is the Segl daemon: the relying-party and admin APIs over
// mutual TLS, with every key in the HSM.
//
//	segld --config segl.yaml          run
//	segld check-config --config F     validate a config without starting
//	segld dev --dir DIR               the embedded development setup (make run)
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	configFlag := &cli.StringFlag{Name: "config", Usage: "the config file (YAML)", Required: true}
	app := &cli.App{
		Name:            "segld",
		Usage:           "the Segl signing and authentication daemon",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Flags:           []cli.Flag{&cli.StringFlag{Name: "config", Usage: "the config file (YAML)"}},
		Action: func(c *cli.Context) error {
			if c.String("config") == "" {
				return fmt.Errorf("--config is required (or run `segld dev` for the development setup)")
			}
			cfg, err := config.Load(c.String("config"))
			if err != nil {
				return err
			}
			return serve(ctx, cfg, log)
		},
		Commands: []*cli.Command{
			{
				Name:  "check-config",
				Usage: "validate a config file and exit",
				Flags: []cli.Flag{configFlag},
				Action: func(c *cli.Context) error {
					if _, err := config.Load(c.String("config")); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "%s: ok\n", c.String("config"))
					return nil
				},
			},
			{
				Name:  "dev",
				Usage: "run on the embedded development setup under --dir, made on first start",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Value: ".segl", Usage: "where the token, database, certificates and env file live"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "the API's address"},
				},
				Action: func(c *cli.Context) error {
					env, err := devenv.Setup(c.String("dir"), c.String("listen"))
					if err != nil {
						return err
					}
					verb := "reusing"
					if env.Created {
						verb = "made"
					}
					fmt.Fprintf(stdout, "segld dev: %s the development setup in %s\n", verb, env.Dir)
					fmt.Fprintf(stdout, "  config:     %s\n  database:   %s\n  issuer CA:  %s\n  TLS CA:     %s\n", env.Config, env.Database, env.IssuerCA, env.TLSCA)
					fmt.Fprintf(stdout, "  officer:    %s\n  RP:         %s\n  SoftHSM:    %s\n", env.Cert, env.RPCert, env.Token.Conf)
					fmt.Fprintf(stdout, "for segl in your shell: . %s/%s\n", env.Dir, devenv.EnvFile)
					cfg, err := config.Load(env.Config)
					if err != nil {
						return err
					}
					return serve(ctx, cfg, log, devenv.Bootstrap)
				},
			},
		},
	}
	if err := app.Run(args); err != nil {
		log.Error("segld stopped", "err", err.Error())
		return 1
	}
	return 0
}

// serve runs the daemon until ctx is done; hooks run on the opened daemon
// before it listens.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, hooks ...func(*daemon.Daemon, *config.Config) error) error {
	d, err := daemon.Open(cfg, log, daemon.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	for _, h := range hooks {
		if err := h(d, cfg); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	info, _ := d.Keystore().Info()
	attrs := []any{"listen", ln.Addr().String(), "hsm_module", cfg.HSM.Module, "token", cfg.HSM.Token}
	if info != nil {
		attrs = append(attrs, "serial", info.Serial)
	}
	log.Info("segld started", attrs...)
	err = d.Serve(ctx, ln)
	log.Info("segld stopped")
	return err
}
