// Command segld is the Segl daemon: the relying-party and admin APIs over
// mutual TLS, with every key in the HSM.
//
//	segld --config segl.yaml [--listen ADDR]   run (--listen instead of the config's listen)
//	segld check-config --config F [--hsm]      check a config whole without starting
//	segld dev --dir DIR [--database URL]       the development setup (make run): SQLite, or PostgreSQL at URL
//	segld --version
//
// A config that does not hold, and anything else that stops segld before
// it serves, is said in plain text on stderr, one problem a line, with
// exit status 1; once it serves, segld logs as log.format says.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/cmd/internal/version"
	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// errStarted marks an error that happened while segld served, and was
// logged already.
type errStarted struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Until the config says otherwise: what the keystore logs while the
	// development setup is made goes where segld's log will go.
	slog.SetDefault(newLogger(config.Defaults().Log, stderr))
	configFlag := &cli.StringFlag{Name: "config", Usage: "the config file (YAML)", Required: true}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version) }
	app := &cli.App{
		Name:            "segld",
		Usage:           "the Segl signing and authentication daemon",
		Version:         version.String(),
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "the config file (YAML)"},
			&cli.StringFlag{Name: "listen", Usage: "the mutual-TLS API's host:port (relying parties and officers), instead of the config's listen: " +
				"several daemons can share one config"},
			&cli.StringFlag{Name: "ops-listen", Usage: "the plain-HTTP host:port of /healthz, /readyz and /metrics, instead of the config's ops-listen (\"\" for none)"},
			&cli.StringFlag{Name: "app-listen", Usage: "the code app's API host:port, instead of the config's app-listen (\"\" for none)"},
		},
		Action: func(c *cli.Context) error {
			if c.String("config") == "" {
				return fmt.Errorf("--config is required (or run `segld dev` for the development setup)")
			}
			cfg, err := config.Load(c.String("config"))
			if err != nil {
				return err
			}
			if err := overrideListeners(c, cfg); err != nil {
				return err
			}
			return serve(ctx, cfg, stderr)
		},
		Commands: []*cli.Command{
			{
				Name:   "man",
				Usage:  "print segld's man page (roff)",
				Hidden: true,
				Action: func(c *cli.Context) error {
					s, err := c.App.ToManWithSection(1)
					if err == nil {
						fmt.Fprint(stdout, s)
					}
					return err
				},
			},
			{
				Name:  "check-config",
				Usage: "check a config file whole, as segld would at start, and exit",
				Description: "Checks every key and value, and every file the config names (certificates, keys, the PIN file, the " +
					"PKCS#11 module, the PostgreSQL password's file or variable), and prints every problem, one a line, naming its key. " +
					"A PostgreSQL URL's form is checked, without connecting. --hsm also logs in to the HSM and checks every configured key label.",
				Flags: []cli.Flag{configFlag, &cli.BoolFlag{Name: "hsm", Usage: "also log in to the HSM and check the keys.* labels"}},
				Action: func(c *cli.Context) error {
					cfg, err := config.Load(c.String("config"))
					if err != nil {
						return err
					}
					if err := cfg.CheckFiles(); err != nil {
						return err
					}
					if c.Bool("hsm") {
						if err := daemon.CheckKeys(cfg); err != nil {
							return err
						}
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
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "the API's address (mutual TLS)"},
					&cli.StringFlag{Name: "ops-listen", Value: "127.0.0.1:8444", Usage: "the plain-HTTP address of /healthz, /readyz and /metrics (\"\" for none)"},
					&cli.StringFlag{Name: "app-listen", Value: "127.0.0.1:8445", Usage: "the code app's API address (TLS without client certificates; \"\" for none)"},
					&cli.StringFlag{Name: "database", Usage: "an existing PostgreSQL database's URL (postgres://…, without a password), written in the config " +
						"made on first start instead of the SQLite file DIR/segl.db"},
				},
				Action: func(c *cli.Context) error {
					// The development SMS adapter is the one built beside segld.
					outbox := ""
					if exe, err := os.Executable(); err == nil {
						if p := filepath.Join(filepath.Dir(exe), "segl-sms-outbox"); fileExists(p) {
							outbox = p
						}
					}
					env, err := devenv.Setup(c.String("dir"), devenv.Options{Listen: c.String("listen"), OpsListen: c.String("ops-listen"),
						AppListen: c.String("app-listen"), Outbox: outbox, Database: c.String("database")})
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
					return serve(ctx, cfg, stderr, devenv.Bootstrap)
				},
			},
		},
	}
	err := app.Run(args)
	var started errStarted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &started):
		return 1
	}
	var cfgErrs config.Errors
	if errors.As(err, &cfgErrs) {
		for _, e := range cfgErrs {
			fmt.Fprintln(stderr, e)
		}
	} else {
		fmt.Fprintf(stderr, "segld: %v\n", err)
	}
	return 1
}

// overrideListeners puts the addresses given by --listen, --ops-listen
// and --app-listen in place of the config's, and checks them again.
func overrideListeners(c *cli.Context, cfg *config.Config) error {
	for _, l := range []struct {
		flag string
		addr *string
		none bool // may be "" for none
	}{{"listen", &cfg.Listen, false}, {"ops-listen", &cfg.OpsListen, true}, {"app-listen", &cfg.AppListen, true}} {
		if !c.IsSet(l.flag) {
			continue
		}
		v := c.String(l.flag)
		if _, _, err := net.SplitHostPort(v); err != nil && !(l.none && v == "") {
			return fmt.Errorf("--%s %q is not host:port", l.flag, v)
		}
		*l.addr = v
	}
	return cfg.CheckListeners()
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// newLogger makes the log log.format and log.level ask for.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the daemon until ctx is done; hooks run on the opened daemon
// before it listens.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer, hooks ...func(*daemon.Daemon, *config.Config) error) error {
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log) // the keystore's own messages, too
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
		return fmt.Errorf("listen: %w", err)
	}
	var ops net.Listener
	if cfg.OpsListen != "" {
		if ops, err = net.Listen("tcp", cfg.OpsListen); err != nil {
			ln.Close()
			return fmt.Errorf("ops-listen: %w", err)
		}
	}
	var app net.Listener
	if cfg.AppListen != "" {
		if app, err = net.Listen("tcp", cfg.AppListen); err != nil {
			ln.Close()
			if ops != nil {
				ops.Close()
			}
			return fmt.Errorf("app-listen: %w", err)
		}
	}
	info, _ := d.Keystore().Info()
	attrs := []any{"version", version.String(), "listen", ln.Addr().String(), "hsm_module", cfg.HSM.Module, "token", cfg.HSM.Token}
	if ops != nil {
		attrs = append(attrs, "ops_listen", ops.Addr().String())
	}
	if app != nil {
		attrs = append(attrs, "app_listen", app.Addr().String())
	}
	if info != nil {
		attrs = append(attrs, "serial", info.Serial)
	}
	log.Info("segld started", attrs...)
	if err := d.Serve(ctx, daemon.Listeners{API: ln, Ops: ops, App: app}); err != nil {
		log.Error("segld stopped", "err", err)
		return errStarted{err}
	}
	log.Info("segld stopped")
	return nil
}
