// Package daemon assembles segld: the HSM keystore, the store, the
// services and the mTLS API, from a config.Config.
package daemon

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/activation"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/api"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/password"
)

// Options are the parts a test may add; production passes none.
type Options struct {
	// ExtraFactors are accepted besides the built-in ones: tests add
	// factors that stall or fail on purpose.
	ExtraFactors []factors.Factor
	// PasswordParams overrides argon2id's cost (tests make it cheap).
	PasswordParams password.Params
	// Clock is the daemon's one clock (default the system's); tests move
	// it to pass expiries.
	Clock clock.Clock
}

// Daemon is a running segld's state.
type Daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	ks     *hsm.Keystore
	db     *sqlite.DB
	api    *api.Server
	tls    *tls.Config
	audit  crypto.Signer
	clock  clock.Clock
	Orders *orders.Service
	// DLCodes makes and checks dynamic-linking codes; until the SMS
	// plugins deliver them, tests read the code from here.
	DLCodes *factors.DLCodeFactor
}

// Open opens the HSM and the database and builds the services.
func Open(cfg *config.Config, log *slog.Logger, opt Options) (_ *Daemon, err error) {
	d := &Daemon{cfg: cfg, log: log, clock: opt.Clock}
	if d.clock == nil {
		d.clock = clock.System{}
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	pin, err := hsmPIN(cfg)
	if err != nil {
		return nil, err
	}
	if d.ks, err = hsm.Open(hsm.Config{Module: cfg.HSM.Module, Token: cfg.HSM.Token, PIN: pin, Sessions: cfg.HSM.Sessions}); err != nil {
		return nil, err
	}
	if d.db, err = sqlite.Open(cfg.Path(cfg.Database)); err != nil {
		return nil, err
	}
	issuer, err := d.issuer()
	if err != nil {
		return nil, err
	}
	auditKey, err := d.ks.Signer(cfg.Keys.Audit)
	if err != nil {
		return nil, fmt.Errorf("keys.audit: %w", err)
	}
	d.audit = timedSigner{auditKey, "audit_checkpoint", d.observeHSM}
	pepperKey, err := d.ks.HMAC(cfg.Keys.Pepper)
	if err != nil {
		return nil, fmt.Errorf("keys.pepper: %w", err)
	}
	pepper := timedMAC{pepperKey, "password_pepper", d.observeHSM}
	actKey, err := d.ks.HMAC(cfg.Keys.Activation)
	if err != nil {
		return nil, fmt.Errorf("keys.activation: %w", err)
	}
	actMAC := timedMAC{actKey, "activation_mac", d.observeHSM}
	cardKey, err := d.ks.HMAC(cfg.Keys.CodeCard)
	if err != nil {
		return nil, fmt.Errorf("keys.codecard: %w", err)
	}
	cardMaster := timedMAC{cardKey, "codecard_hmac", d.observeHSM}
	dlKey, err := d.ks.HMAC(cfg.Keys.DLCode)
	if err != nil {
		return nil, fmt.Errorf("keys.dlcode: %w", err)
	}
	d.DLCodes = factors.NewDLCode(timedMAC{dlKey, "dlcode_hmac", d.observeHSM})
	if _, err := d.ks.Find(cfg.Keys.KEK); err != nil {
		return nil, fmt.Errorf("keys.kek: %w", err)
	}
	kid, err := jws.KeyID(issuer.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("keys.issuer: %w", err)
	}
	pepperID := cfg.HSM.Token + "/" + cfg.Keys.Pepper
	fs := append([]factors.Factor{
		factors.NewPassword(pepper, pepperID),
		factors.NewCodeCard(cardMaster),
		factors.NewOTP(d.db, d.ks, otp.DefaultPolicy),
		d.DLCodes,
	}, opt.ExtraFactors...)
	acts := activation.New(d.ks, actMAC, d.db, d.clock)
	acts.Observe = d.observeHSM
	d.Orders = orders.New(d.db, &orders.Issuer{Name: cfg.Issuer.Name, Key: timedSigner{issuer.Key, "issuer_sign", d.observeHSM},
		KeyID: kid, Chain: issuer.Chain, Issuer: issuer.Cert},
		acts,
		orders.Config{Expiry: time.Duration(cfg.Orders.Expiry), MaxFailures: cfg.Orders.MaxFailures, Block: time.Duration(cfg.Orders.Block),
			ChallengeReissues: cfg.Orders.ChallengeReissues, ChallengesPerHour: cfg.Orders.ChallengesPerHour},
		d.clock, fs...)
	clientCAs, err := readCerts(cfg.Path(cfg.TLS.ClientCA))
	if err != nil {
		return nil, fmt.Errorf("tls.client-ca: %w", err)
	}
	adm := &admin.Service{Store: d.db, Keys: d.ks, KEK: cfg.Keys.KEK, Issuer: issuer, Pepper: pepper, PepperID: pepperID,
		PasswordParams: opt.PasswordParams, CodeCardMaster: cardMaster, Tokens: d.ks, Clock: d.clock, ClientCAs: clientCAs}
	d.api = api.New(d.Orders, adm, d.db, d.ready, log, d.clock)
	if err := d.registerOfficers(); err != nil {
		return nil, err
	}
	if d.tls, err = d.tlsConfig(clientCAs); err != nil {
		return nil, err
	}
	return d, nil
}

// hsmPIN takes the PIN from the environment, or from hsm.pin-file.
func hsmPIN(cfg *config.Config) (hsm.PIN, error) {
	pin, err := hsm.PINFromEnv(hsm.EnvPIN, hsm.EnvPINFile)
	if errors.Is(err, hsm.ErrNoPIN) && cfg.HSM.PINFile != "" {
		b, rerr := os.ReadFile(cfg.Path(cfg.HSM.PINFile))
		if rerr != nil {
			return "", fmt.Errorf("hsm.pin-file: %w", rerr)
		}
		return hsm.PIN(trimNewline(string(b))), nil
	}
	return pin, err
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// issuer loads the issuer chain and checks it belongs to the HSM key.
func (d *Daemon) issuer() (*ca.Issuer, error) {
	chain, err := readCerts(d.cfg.Path(d.cfg.Issuer.Certificate))
	if err != nil {
		return nil, fmt.Errorf("issuer.certificate: %w", err)
	}
	key, err := d.ks.Signer(d.cfg.Keys.Issuer)
	if err != nil {
		return nil, fmt.Errorf("keys.issuer: %w", err)
	}
	if !reflect.DeepEqual(chain[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("issuer.certificate: its public key is not that of the HSM key %q", d.cfg.Keys.Issuer)
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keys.issuer: %q must be an ECDSA P-256 key (it signs ES256 assertions)", d.cfg.Keys.Issuer)
	}
	// The chain sent with signatures stops below a self-signed root.
	var send []*x509.Certificate
	for _, c := range chain {
		if c.CheckSignatureFrom(c) == nil && len(send) > 0 {
			break
		}
		send = append(send, c)
	}
	return &ca.Issuer{Cert: chain[0], Key: key, Chain: send}, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in " + path)
	}
	return certs, nil
}

// registerOfficers registers the officers named in the config that are
// not registered yet.
func (d *Daemon) registerOfficers() error {
	for i, o := range d.cfg.Officers {
		certs, err := readCerts(d.cfg.Path(o.Certificate))
		if err != nil {
			return fmt.Errorf("officers[%d].certificate: %w", i, err)
		}
		fp := admin.Fingerprint(certs[0])
		err = d.db.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.CallerByFingerprint(fp); err == nil {
				return nil
			}
			now := time.Now()
			if err := tx.CreateOfficer(&store.Caller{ID: o.ID, Name: o.Name, Fingerprint: fp, Created: now}); err != nil {
				return err
			}
			_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminOfficerRegistered, Actor: "system", Subject: "officer:" + o.ID,
				Outcome: "ok", Details: map[string]string{"fingerprint": fp, "source": "config"}})
			return err
		})
		if err != nil {
			return fmt.Errorf("officers[%d]: %w", i, err)
		}
	}
	return nil
}

func (d *Daemon) tlsConfig(cas []*x509.Certificate) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(d.cfg.Path(d.cfg.TLS.Certificate), d.cfg.Path(d.cfg.TLS.Key))
	if err != nil {
		return nil, fmt.Errorf("tls.certificate / tls.key: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return d.api.TLSConfig(cert, pool), nil
}

func (d *Daemon) ready(ctx context.Context) error {
	if err := d.ks.Ping(); err != nil {
		return fmt.Errorf("hsm: %w", err)
	}
	if err := d.db.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Store is the daemon's store, for tests and tools.
func (d *Daemon) Store() store.Store { return d.db }

// Keystore is the daemon's HSM keystore.
func (d *Daemon) Keystore() *hsm.Keystore { return d.ks }

// Serve answers on ln until ctx is done, then finishes the requests in
// flight (up to 30 seconds) and seals the audit chain.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           d.api.Handler(),
		TLSConfig:         d.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	sealCtx, stopSeal := context.WithCancel(context.Background())
	sealed := make(chan struct{})
	go func() {
		defer close(sealed)
		d.sealLoop(sealCtx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		d.log.Info("shutting down: finishing requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopSeal()
	<-sealed
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases the HSM and the database.
func (d *Daemon) Close() {
	if d.db != nil {
		d.db.Close()
	}
	if d.ks != nil {
		d.ks.Close()
	}
}
