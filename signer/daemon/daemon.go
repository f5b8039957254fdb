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
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/activation"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/api"
	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/postgres"
	"github.com/segl/segl/signer/store/sqlite"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/password"
	"github.com/segl/segl/tokens/piv"
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
	// PluginPolicy overrides the plugin host's restart and breaker
	// timings (tests shorten them).
	PluginPolicy host.Policy
}

// OpenStore opens the database cfg names: its SQLite file, or its
// PostgreSQL database with the password from the file or variable the
// config names (read now, so that a rotated one is picked up at start).
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if cfg.DatabaseKind() != config.DatabasePostgres {
		return sqlite.Open(cfg.SQLitePath())
	}
	url, err := cfg.PostgresURL()
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, url)
}

// Daemon is a running segld's state.
type Daemon struct {
	cfg  *config.Config
	log  *slog.Logger
	ks   *hsm.Keystore
	db   store.Store
	api  *api.Server
	tls  *tls.Config
	seal *sealer
	// plugins runs the adapters' processes; sms sends through them.
	plugins      *host.Host
	sms          *smsgate.Gate
	file         *audit.File // audit.checkpoint-file, or nil
	probe        *hsmProbe
	clock        clock.Clock
	pluginPolicy host.Policy
	Orders       *orders.Service
	// DLCodes makes and checks dynamic-linking codes; until the SMS
	// plugins deliver them, tests read the code from here.
	DLCodes *factors.DLCodeFactor
}

// Open opens the HSM and the database and builds the services.
func Open(cfg *config.Config, log *slog.Logger, opt Options) (_ *Daemon, err error) {
	d := &Daemon{cfg: cfg, log: log, clock: opt.Clock, pluginPolicy: opt.PluginPolicy}
	if d.clock == nil {
		d.clock = clock.System{}
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	// What check-config checks, segld checks: every file, all at once.
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	pin, err := hsmPIN(cfg)
	if err != nil {
		return nil, err
	}
	if d.ks, err = hsm.Open(hsm.Config{Module: cfg.HSM.Module, Token: cfg.HSM.Token, PIN: pin, Sessions: cfg.HSM.Sessions,
		SessionWait: time.Duration(cfg.HSM.SessionWait), UnwrapCache: unwrapCache(cfg.HSM.UnwrapCache)}); err != nil {
		return nil, fmt.Errorf("hsm (module %s, token %q): %w", cfg.HSM.Module, cfg.HSM.Token, err)
	}
	if d.db, err = OpenStore(context.Background(), cfg); err != nil {
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
	if cfg.Audit.CheckpointFile != "" {
		if d.file, err = audit.OpenFile(cfg.Path(cfg.Audit.CheckpointFile)); err != nil {
			return nil, fmt.Errorf("audit.checkpoint-file: %w", err)
		}
	}
	d.seal = newSealer(d.db, timedSigner{auditKey, "audit_checkpoint", d.observeHSM}, d.ks, cfg.Audit.CheckpointObject, d.file, log,
		d.clock, cfg.Audit.CheckpointEvery, time.Duration(cfg.Audit.CheckpointInterval))
	pepperKey, err := d.ks.HMAC(cfg.Keys.Pepper)
	if err != nil {
		return nil, fmt.Errorf("keys.pepper: %w", err)
	}
	d.probe = &hsmProbe{mac: pepperKey}
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
		factors.NewOTP(d.db, d.ks, OTPPolicy(cfg)),
		factors.NewPIV(d.db),
		d.DLCodes,
		factors.AppFactor{},
	}, opt.ExtraFactors...)
	acts := activation.New(d.ks, actMAC, d.db, d.clock)
	acts.Observe = d.observeHSM
	d.Orders = orders.New(d.db, &orders.Issuer{Name: cfg.Issuer.Name, Key: timedSigner{issuer.Key, "issuer_sign", d.observeHSM},
		KeyID: kid, Chain: issuer.Chain, Issuer: issuer.Cert},
		acts,
		orders.Config{Expiry: time.Duration(cfg.Orders.Expiry), MaxFailures: cfg.Orders.MaxFailures, Block: time.Duration(cfg.Orders.Block),
			ChallengeReissues: cfg.Orders.ChallengeReissues, ChallengesPerHour: cfg.Orders.ChallengesPerHour,
			AssertionLifetime: time.Duration(cfg.Orders.AssertionLifetime), QRMaxAge: time.Duration(cfg.Orders.QRMaxAge),
			MaxDevices: cfg.App.MaxDevices, DocumentCheckFrom: cfg.Orders.DocumentCheckFrom},
		d.clock, fs...)
	clientCAs, err := config.ReadCertificates(cfg.Path(cfg.TLS.ClientCA))
	if err != nil {
		return nil, fmt.Errorf("tls.client-ca: %w", err)
	}
	params := password.Params{Memory: uint32(cfg.Passwords.MemoryMiB) << 10, Time: uint32(cfg.Passwords.Passes), Threads: uint8(cfg.Passwords.Lanes)}
	if opt.PasswordParams != (password.Params{}) {
		params = opt.PasswordParams
	}
	adm := &admin.Service{Store: d.db, Keys: d.ks, KEK: cfg.Keys.KEK, Issuer: issuer, Pepper: pepper, PepperID: pepperID,
		PasswordParams: params, CodeCardMaster: cardMaster, Tokens: d.ks, Clock: d.clock, ClientCAs: clientCAs, OTPPolicy: OTPPolicy(cfg)}
	if adm.PIV, adm.PIVPolicy, err = PIV(cfg); err != nil {
		return nil, err
	}
	if err := d.startPlugins(); err != nil {
		return nil, err
	}
	d.api = api.New(d.Orders, adm, d.db, d.ready, log, d.clock)
	d.api.SetMaxBody(int64(cfg.API.MaxBody))
	d.api.SetPlugins(d.Plugins)
	var chain [][]byte
	for _, c := range issuer.Chain {
		chain = append(chain, c.Raw)
	}
	jwk, err := jws.PublicJWK(issuer.Key.Public(), chain)
	if err != nil {
		return nil, fmt.Errorf("keys.issuer: %w", err)
	}
	d.api.SetJWKS([]jws.JWK{jwk})
	d.api.RegisterMetrics(d.seal.collectors()...)
	d.api.SetAuditCadence(cfg.Audit.CheckpointEvery, time.Duration(cfg.Audit.CheckpointInterval))
	if err := d.registerOfficers(); err != nil {
		return nil, err
	}
	if d.tls, err = d.tlsConfig(clientCAs); err != nil {
		return nil, err
	}
	return d, nil
}

// startPlugins starts every configured plugin (a plugin that does not
// start stops segld, naming it) and sends SMS through the adapters.
func (d *Daemon) startPlugins() error {
	byName := map[string]*host.Plugin{}
	if len(d.cfg.Plugins) > 0 {
		d.plugins = host.New(d.log, d.pluginPolicy)
	}
	for i, p := range d.cfg.Plugins {
		var c host.Contract
		switch p.Contract {
		case "sms":
			c = sms.HostContract
		case "docverify":
			c = docverify.HostContract
		}
		pl, err := d.plugins.Add(context.Background(), c, host.Spec{Name: p.Name, Command: p.Command, SHA256: p.SHA256, Settings: p.Config})
		if err != nil {
			return fmt.Errorf("plugins[%d]: %w", i, err)
		}
		byName[p.Name] = pl
	}
	if v := d.cfg.Documents.Verifier; v != "" {
		d.Orders.AddFactor(&factors.PassportFactor{Verifier: d.verifier(byName[v])})
	}
	if len(d.cfg.SMS.Adapters) == 0 {
		return nil
	}
	d.sms = &smsgate.Gate{Store: d.db, Timeout: time.Duration(d.cfg.SMS.Timeout), Clock: d.clock, Log: d.log,
		Limits: smsgate.Limits{PerOrder: d.cfg.SMS.CodesPerOrder, PerHour: d.cfg.SMS.PerUserHour}}
	for _, a := range d.cfg.SMS.Adapters {
		d.sms.Adapters = append(d.sms.Adapters, smsgate.Adapter{Name: a, Plugin: byName[a]})
	}
	challenge := factors.NewSMSChallenge(d.DLCodes, d.sms, smsgate.Texts{Templates: d.cfg.SMSTemplates(), Language: d.cfg.SMS.Language, Issuer: d.cfg.Issuer.Name})
	d.Orders.AddChallenger(challenge)
	d.Orders.SetPaymentCheck(challenge.CheckPayment)
	d.Orders.SetDeviceNotice(d.deviceNotice)
	return nil
}

// verifier is the document verifier plugin p, each check bounded by
// documents.timeout.
func (d *Daemon) verifier(p *host.Plugin) func(ctx context.Context) (docverify.Verifier, error) {
	return func(ctx context.Context) (docverify.Verifier, error) {
		raw, err := p.Get(ctx)
		if err != nil {
			return nil, err
		}
		return timedVerifier{raw.(docverify.Verifier), time.Duration(d.cfg.Documents.Timeout), p}, nil
	}
}

// timedVerifier bounds a check and tells the host of a call that got no
// answer.
type timedVerifier struct {
	docverify.Verifier
	timeout time.Duration
	p       *host.Plugin
}

func (t timedVerifier) Verify(ctx context.Context, doc docverify.Document) (*docverify.Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	v, err := t.Verifier.Verify(ctx, doc)
	if err != nil && !errors.Is(err, docverify.ErrInvalid) {
		t.p.Failed()
	}
	return v, err
}

// deviceNotice tells a user by SMS that a device was activated for their
// login. It is sent after the activation is committed; one that is not
// sent is logged, and the activation stands.
func (d *Daemon) deviceNotice(ctx context.Context, u *store.User, name string) {
	text := DeviceNotice(name)
	if _, err := d.sms.Send(ctx, smsgate.Message{User: u.ID, To: u.Phone, Text: text}); err != nil {
		d.log.Warn("the SMS telling of a new device was not sent", "user", u.ID, "err", err)
	}
}

// DeviceNotice is the SMS telling of a new device, its name cut short
// (with "...", which GSM 03.38 has) when the whole would not fit in one SMS.
func DeviceNotice(name string) string {
	r := []rune(name)
	for n := len(r); ; n-- {
		shown := string(r[:n])
		if n < len(r) {
			shown += "..."
		}
		text := fmt.Sprintf("A new device %q was activated for your login. Not you? Call your bank.", shown)
		if _, err := sms.Fit(text); err == nil || n == 0 {
			return text
		}
	}
}

// Plugins says how each plugin is, for segl plugins list.
func (d *Daemon) Plugins() []host.Status {
	if d.plugins == nil {
		return nil
	}
	var out []host.Status
	for _, p := range d.plugins.Plugins() {
		out = append(out, p.Status())
	}
	return out
}

// unwrapCache is hsm.unwrap-cache as the keystore takes it: 0 there is
// the default, and "off" is NoUnwrapCache.
func unwrapCache(n int) int {
	if n == 0 {
		return hsm.NoUnwrapCache
	}
	return n
}

// PIV is the config's piv section: the attestation verifier with its
// extra roots, and the policy an enrolled card's key must meet.
func PIV(cfg *config.Config) (piv.Verifier, piv.Policy, error) {
	var v piv.Verifier
	if f := cfg.PIV.AttestationRoots; f != "" {
		certs, err := config.ReadCertificates(cfg.Path(f))
		if err != nil {
			return v, piv.Policy{}, fmt.Errorf("piv.attestation-roots: %w", err)
		}
		v.Extra = x509.NewCertPool()
		for _, c := range certs {
			v.Extra.AddCert(c)
		}
	}
	var fw piv.Version
	if _, err := fmt.Sscanf(cfg.PIV.MinECDSAFirmware, "%d.%d.%d", &fw.Major, &fw.Minor, &fw.Patch); err != nil {
		return v, piv.Policy{}, fmt.Errorf("piv.min-ecdsa-firmware %q: %w", cfg.PIV.MinECDSAFirmware, err)
	}
	return v, piv.Policy{MinECDSAFirmware: fw, AllowPINPolicyNever: cfg.PIV.AllowPINPolicyNever}, nil
}

// OTPPolicy is the config's otp section as the tokens' verification
// policy.
func OTPPolicy(cfg *config.Config) otp.Policy {
	return otp.Policy{LookAhead: cfg.OTP.LookAhead, ResyncWindow: cfg.OTP.ResyncWindow, TOTPWindow: cfg.OTP.TOTPWindow,
		MaxFailures: cfg.OTP.MaxFailures, Block: time.Duration(cfg.OTP.Block), MaxBlock: time.Duration(cfg.OTP.MaxBlock)}
}

// hsmPIN takes the PIN from the file hsm.pin-file names: the config wins.
// Only without it is the environment read (SEGL_HSM_PIN_FILE or
// SEGL_HSM_PIN), for containers whose secrets arrive that way.
func hsmPIN(cfg *config.Config) (hsm.PIN, error) {
	if cfg.HSM.PINFile != "" {
		b, err := os.ReadFile(cfg.Path(cfg.HSM.PINFile))
		if err != nil {
			return "", fmt.Errorf("hsm.pin-file: %w", err)
		}
		return hsm.PIN(strings.TrimRight(string(b), "\r\n")), nil
	}
	pin, err := hsm.PINFromEnv(hsm.EnvPIN, hsm.EnvPINFile)
	if errors.Is(err, hsm.ErrNoPIN) {
		return "", fmt.Errorf("hsm.pin-file: not set, and neither is %s or %s: name the file that holds the user PIN in hsm.pin-file", hsm.EnvPINFile, hsm.EnvPIN)
	}
	return pin, err
}

// issuer loads the issuer chain and checks it belongs to the HSM key.
func (d *Daemon) issuer() (*ca.Issuer, error) {
	chain, err := config.ReadCertificates(d.cfg.Path(d.cfg.Issuer.Certificate))
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

// registerOfficers makes the registered officers those of the config: an
// officer in it is registered, or brought up to date (certificate, name);
// one no longer in it is removed, and its certificate gets 401 from then
// on. Each change has its audit record.
func (d *Daemon) registerOfficers() error {
	type wanted struct {
		i  int
		o  config.Officer
		fp string
	}
	want := map[string]wanted{}
	for i, o := range d.cfg.Officers {
		certs, err := config.ReadCertificates(d.cfg.Path(o.Certificate))
		if err != nil {
			return fmt.Errorf("officers[%d].certificate: %w", i, err)
		}
		want[o.ID] = wanted{i, o, admin.Fingerprint(certs[0])}
	}
	return d.db.Update(context.Background(), func(tx store.Tx) error {
		now := d.clock.Now()
		record := func(event, id string, details map[string]string) error {
			details["source"] = "config"
			_, err := tx.Audit(audit.Record{Time: now, Event: event, Actor: "system", Subject: "officer:" + id, Outcome: "ok", Details: details})
			return err
		}
		have, err := tx.Officers()
		if err != nil {
			return err
		}
		for _, o := range have {
			w, ok := want[o.ID]
			if !ok {
				if err := tx.DeleteOfficer(o.ID); err != nil {
					return err
				}
				if err := record(audit.AdminOfficerRemoved, o.ID, map[string]string{"fingerprint": o.Fingerprint, "reason": "not in the config"}); err != nil {
					return err
				}
				continue
			}
			delete(want, o.ID)
			if o.Fingerprint == w.fp && o.Name == w.o.Name && !o.Disabled {
				continue
			}
			details := map[string]string{"fingerprint": w.fp}
			if o.Fingerprint != w.fp {
				details["replaces"] = o.Fingerprint
			}
			o.Fingerprint, o.Name, o.Disabled = w.fp, w.o.Name, false
			if err := tx.UpdateOfficer(o); err != nil {
				return fmt.Errorf("officers[%d]: %w", w.i, err)
			}
			if err := record(audit.AdminOfficerChanged, o.ID, details); err != nil {
				return err
			}
		}
		for _, w := range want {
			if err := tx.CreateOfficer(&store.Caller{ID: w.o.ID, Name: w.o.Name, Fingerprint: w.fp, Created: now}); err != nil {
				return fmt.Errorf("officers[%d]: %w", w.i, err)
			}
			if err := record(audit.AdminOfficerRegistered, w.o.ID, map[string]string{"fingerprint": w.fp}); err != nil {
				return err
			}
		}
		return nil
	})
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

// ready is /readyz: the HSM does an operation with a key, the database
// answers, and the audit log extends the HSM's last checkpoint.
func (d *Daemon) ready(ctx context.Context) error {
	if err := d.probe.check(); err != nil {
		return fmt.Errorf("hsm: %w", err)
	}
	if err := d.db.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if b := d.seal.Broken(); b != nil {
		return fmt.Errorf("audit log broken at record %d: %s", b.Seq, b.Reason)
	}
	return nil
}

// hsmProbe exercises a key in the HSM for /readyz, at most once a second:
// a session can look fine while the token behind it is gone, and only an
// operation with a key finds that out. The interval is the machine's,
// not the daemon's clock that tests move.
type hsmProbe struct {
	mac interface {
		Sum(h crypto.Hash, msg []byte) ([]byte, error)
	}
	mu  sync.Mutex
	at  time.Time
	err error
}

func (p *hsmProbe) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < time.Second {
		return p.err
	}
	_, p.err = p.mac.Sum(crypto.SHA256, []byte("SEGL-READY-1"))
	p.at = time.Now()
	return p.err
}

// Metrics lists the daemon's own metrics with their label names.
func (d *Daemon) Metrics() map[string][]string { return d.api.Metrics() }

// Store is the daemon's store, for tests and tools.
func (d *Daemon) Store() store.Store { return d.db }

// Keystore is the daemon's HSM keystore.
func (d *Daemon) Keystore() *hsm.Keystore { return d.ks }

// Listeners are where segld answers.
type Listeners struct {
	API net.Listener // the mutual-TLS API
	Ops net.Listener // plain HTTP /healthz, /readyz, /metrics, or nil
	App net.Listener // the code app's API (TLS, no client certificate), or nil
}

// Serve answers the API on l.API (mutual TLS), /healthz, /readyz and
// /metrics in plain HTTP on l.Ops and the app API on l.App when they are
// not nil, until ctx is done; then it finishes the requests in flight (up
// to 30 seconds) and seals the audit chain.
func (d *Daemon) Serve(ctx context.Context, l Listeners) error {
	ln, ops := l.API, l.Ops
	servers := []*http.Server{{
		Handler:           d.api.Handler(),
		TLSConfig:         d.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}}
	if ops != nil {
		servers = append(servers, &http.Server{Handler: d.api.OpsHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)})
	}
	// A log rewritten while segld was stopped is found before the first
	// request is served; the outcome is in /readyz and the log.
	if err := d.seal.check(ctx); err != nil {
		var be errBroken
		if !errors.As(err, &be) && ctx.Err() == nil {
			d.log.Error("check the audit chain", "err", err)
		}
	}
	if d.sms != nil {
		reports, stopReports := context.WithCancel(context.Background())
		defer d.sms.Wait()
		defer stopReports()
		d.sms.Run(reports)
	}
	sealCtx, stopSeal := context.WithCancel(context.Background())
	sealed := make(chan struct{})
	go func() {
		defer close(sealed)
		d.sealLoop(sealCtx)
	}()
	if l.App != nil {
		servers = append(servers, &http.Server{
			Handler:           d.api.AppHandler(),
			TLSConfig:         api.AppTLSConfig(d.tls.Certificates[0]),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      app.MaxWait + 30*time.Second, // the long poll
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
		})
	}
	errc := make(chan error, len(servers))
	go func() { errc <- servers[0].ServeTLS(ln, "", "") }()
	if ops != nil {
		go func() { errc <- servers[1].Serve(ops) }()
	}
	if l.App != nil {
		go func() { errc <- servers[len(servers)-1].ServeTLS(l.App, "", "") }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		d.log.Info("shutting down: finishing requests in flight")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	// The app's long polls answer what they have at once rather than
	// holding the stop for up to 25 s; every other request finishes.
	d.Orders.EndPolls()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); err == nil {
			err = serr
		}
	}
	cancel()
	stopSeal()
	<-sealed
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close ends the plugins' processes and releases the HSM, the database
// and the checkpoint file.
func (d *Daemon) Close() {
	if d.plugins != nil {
		d.plugins.Stop()
	}
	if d.file != nil {
		d.file.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.ks != nil {
		d.ks.Close()
	}
}
