// Command segld is the Segl daemon.
//
// Today it opens the HSM named by the environment (SEGL_HSM_MODULE,
// SEGL_HSM_TOKEN, SEGL_HSM_PIN_FILE), keeps the connection alive through
// HSM restarts, and answers health and readiness probes. The relying-party
// API over mTLS arrives with the orders; until then segld listens on
// loopback only, because it has nothing to protect a wider listener with.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/hsm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stderr))
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	app := &cli.App{
		Name:      "segld",
		Usage:     "the Segl signing and authentication daemon",
		Writer:    stderr,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "address for the health endpoints (loopback only until mTLS)"},
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			ln, err := listenLoopback(c.String("listen"))
			if err != nil {
				return err
			}
			cfg, err := hsm.ConfigFromEnv()
			if err != nil {
				ln.Close()
				return err
			}
			ks, err := hsm.Open(cfg)
			if err != nil {
				ln.Close()
				return err
			}
			defer ks.Close()
			return serve(ctx, ks, ln, log)
		},
	}
	if err := app.Run(args); err != nil {
		log.Error("segld stopped", "err", err.Error())
		return 1
	}
	return 0
}

// listenLoopback refuses any address that is not on this machine: without
// TLS, a wider listener would be an open door.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--listen %q: segld has no TLS yet and listens on loopback only (127.0.0.1, [::1], localhost)", addr)
	}
	return net.Listen("tcp", addr)
}

// serve answers the probes on ln until ctx ends, then drains in-flight
// requests.
func serve(ctx context.Context, ks *hsm.Keystore, ln net.Listener, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ks.Ping(); err != nil {
			log.Warn("not ready", "err", err.Error())
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	info, err := ks.Info()
	if err != nil {
		return err
	}
	log.Info("segld started", "listen", ln.Addr().String(), "hsm_module", info.Module, "token", info.Label, "serial", info.Serial)

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	log.Info("segld stopped")
	return err
}
