// Package api is segld's HTTP API over mutual TLS: the relying-party API
// (/rp/v1/…, modelled on BankID RP API v6), the officers' admin API
// (/admin/v1/…) and the operational endpoints (/healthz, /readyz,
// /metrics).
//
// A caller is who its client certificate says: TLS 1.3 only, the
// certificate verified against a private client CA (never the system
// roots), and its SHA-256 looked up among registered relying parties and
// officers, on every handshake (VerifyConnection, so a resumed session of
// a since-disabled caller is refused) and on every request. No header
// changes who a caller is.
package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
)

// Server is the HTTP side of segld.
type Server struct {
	orders  *orders.Service
	admin   *admin.Service
	store   store.Store
	ready   func(context.Context) error
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux
	clock   clock.Clock
	cadence *AuditCadence
	maxBody int64
	jwks    []jws.JWK
	// pluginStatus reads the plugins' states; nil without plugins
	pluginStatus func() []host.Status
	// patterns and appPatterns are the routes served, for the test that
	// holds them to the OpenAPI descriptions.
	patterns    []string
	appPatterns []string
}

// New returns a Server. ready reports whether the HSM and the database
// answer, for /readyz.
func New(o *orders.Service, a *admin.Service, st store.Store, ready func(context.Context) error, log *slog.Logger, clk clock.Clock) *Server {
	s := &Server{orders: o, admin: a, store: st, ready: ready, log: log, metrics: newMetrics(st), mux: http.NewServeMux(), clock: clk, maxBody: MaxBody}
	s.routes()
	return s
}

// SetJWKS sets the keys that verify assertions, for GET /rp/v1/jwks.
func (s *Server) SetJWKS(keys []jws.JWK) { s.jwks = keys }

// SetPlugins tells the API how to read the plugins' states, for GET
// /admin/v1/plugins.
func (s *Server) SetPlugins(status func() []host.Status) { s.pluginStatus = status }

// SetMaxBody bounds request bodies (api.max-body) other than a token file.
func (s *Server) SetMaxBody(n int64) { s.maxBody = n }

// SetAuditCadence says in GET /admin/v1/audit how often segld seals the
// audit chain, so that `segl audit verify` can tell a missing checkpoint.
func (s *Server) SetAuditCadence(every int, interval time.Duration) {
	s.cadence = &AuditCadence{Every: every, IntervalSeconds: int(interval / time.Second)}
}

// TLSConfig is the server side of mutual TLS: TLS 1.3, client certificates
// required and verified against clientCAs only, and the caller's
// registration checked on every handshake.
func (s *Server) TLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        clientCAs,
		VerifyConnection: s.verifyConnection,
	}
}

// verifyConnection runs after chain verification, on full and resumed
// handshakes alike. A registered but disabled caller is refused here; an
// unregistered certificate from the client CA gets through the handshake
// so that it can be told 401 (and audited) in HTTP terms.
func (s *Server) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return errors.New("no verified client certificate")
	}
	leaf := cs.PeerCertificates[0]
	c, err := s.caller(context.Background(), leaf)
	if err != nil || !c.Disabled {
		return nil
	}
	s.auditUnauthorized(context.Background(), leaf, audit.TLSDisabledCertificate, c)
	return fmt.Errorf("%s %s is disabled", c.Role, c.ID)
}

func (s *Server) caller(ctx context.Context, leaf *x509.Certificate) (*store.Caller, error) {
	var c *store.Caller
	err := s.store.View(ctx, func(r store.Reader) (err error) {
		c, err = r.CallerByFingerprint(admin.Fingerprint(leaf))
		return err
	})
	return c, err
}

func (s *Server) auditUnauthorized(ctx context.Context, leaf *x509.Certificate, event string, c *store.Caller) {
	fp := admin.Fingerprint(leaf)
	details := map[string]string{"subject": leaf.Subject.String(), "issuer": leaf.Issuer.String()}
	if c != nil {
		details["caller"] = string(c.Role) + ":" + c.ID
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit(audit.Record{Time: s.clock.Now(), Event: event, Actor: "cert:" + fp, Outcome: "refused", Details: details})
		return err
	})
	if err != nil {
		s.log.Error("audit a refused client certificate", "fingerprint", fp, "err", err)
	}
}

type callerKey struct{}

// callerOf is the authenticated caller of a request that passed authorize.
func callerOf(r *http.Request) *store.Caller { return r.Context().Value(callerKey{}).(*store.Caller) }

// authorize admits a request only from a registered, enabled caller with
// the role (any role, for role "").
func (s *Server) authorize(role store.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			writeError(w, http.StatusUnauthorized, codeUnauth, "a client certificate is required")
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		c, err := s.caller(r.Context(), leaf)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.auditUnauthorized(r.Context(), leaf, audit.TLSUnknownCertificate, nil)
			writeError(w, http.StatusUnauthorized, codeUnauth, "this client certificate is not registered: an officer registers it with `segl rp create`")
			return
		case err != nil:
			s.fail(w, r, err)
			return
		case c.Disabled:
			s.auditUnauthorized(r.Context(), leaf, audit.TLSDisabledCertificate, c)
			writeError(w, http.StatusUnauthorized, codeUnauth, fmt.Sprintf("%s %s is disabled", c.Role, c.ID))
			return
		case role != "" && c.Role != role:
			writeError(w, http.StatusForbidden, codeUnauth, fmt.Sprintf("a%s certificate cannot use this API", map[store.Role]string{store.RoleRP: " relying party's", store.RoleOfficer: "n officer's"}[c.Role]))
			return
		}
		noteCaller(r, string(c.Role)+":"+c.ID)
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	}
}

// OpsHandler serves /healthz, /readyz and /metrics to anyone, in plain
// HTTP, for load balancers and Prometheus (the ops listener): nothing else.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "the ops listener serves /healthz, /readyz and /metrics only")
	})
	return s.observe(mux)
}

func healthz(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }

// Handler is the API with its metrics.
func (s *Server) Handler() http.Handler { return s.observe(s.mux) }

func (s *Server) routes() {
	m := routeRecorder{s, s.mux, &s.patterns}
	m.HandleFunc("GET /healthz", healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.authorize("", s.metrics.handler().ServeHTTP))
	m.HandleFunc("GET /openapi.yaml", serveOpenAPI)

	rp := func(h http.HandlerFunc) http.HandlerFunc { return s.authorize(store.RoleRP, h) }
	m.HandleFunc("POST /rp/v1/auth", rp(s.start(store.KindAuth)))
	m.HandleFunc("POST /rp/v1/sign", rp(s.start(store.KindSign)))
	m.HandleFunc("POST /rp/v1/collect", rp(s.collect))
	m.HandleFunc("POST /rp/v1/cancel", rp(s.cancel))
	m.HandleFunc("POST /rp/v1/factor", rp(s.factor))
	m.HandleFunc("POST /rp/v1/qr", rp(s.qr))
	m.HandleFunc("POST /rp/v1/qr/verify", rp(s.qrVerify))
	m.HandleFunc("POST /rp/v1/challenge", rp(s.challenge))
	m.HandleFunc("POST /rp/v1/enrol", rp(s.enrol))
	m.HandleFunc("GET /rp/v1/jwks", rp(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]jws.JWK{"keys": s.jwks})
	}))

	off := func(h http.HandlerFunc) http.HandlerFunc { return s.authorize(store.RoleOfficer, h) }
	m.HandleFunc("POST /admin/v1/users", off(s.createUser))
	m.HandleFunc("GET /admin/v1/users", off(s.listUsers))
	m.HandleFunc("GET /admin/v1/users/{id}", off(s.showUser))
	m.HandleFunc("POST /admin/v1/users/{id}/disable", off(s.setUserDisabled(true)))
	m.HandleFunc("POST /admin/v1/users/{id}/enable", off(s.setUserDisabled(false)))
	m.HandleFunc("PUT /admin/v1/users/{id}/password", off(s.setPassword))
	m.HandleFunc("PUT /admin/v1/users/{id}/phone", off(s.setPhone))
	m.HandleFunc("DELETE /admin/v1/users/{id}/phone", off(s.deletePhone))
	m.HandleFunc("PUT /admin/v1/users/{id}/identity", off(s.setIdentity))
	m.HandleFunc("GET /admin/v1/sms", off(s.listSMS))
	m.HandleFunc("GET /admin/v1/plugins", off(s.listPlugins))
	m.HandleFunc("POST /admin/v1/rps", off(s.createRP))
	m.HandleFunc("GET /admin/v1/rps", off(s.listRPs))
	m.HandleFunc("POST /admin/v1/rps/{id}/disable", off(s.setRPDisabled(true)))
	m.HandleFunc("POST /admin/v1/rps/{id}/enable", off(s.setRPDisabled(false)))
	m.HandleFunc("GET /admin/v1/audit", off(s.auditLog))
	m.HandleFunc("POST /admin/v1/codecards", off(s.issueCodeCard))
	m.HandleFunc("GET /admin/v1/codecards", off(s.listCodeCards))
	m.HandleFunc("POST /admin/v1/codecards/{serial}/revoke", off(s.revokeCodeCard))
	m.HandleFunc("POST /admin/v1/codecards/{serial}/print", off(s.printCodeCard))
	m.HandleFunc("POST /admin/v1/tokens", off(s.importTokens))
	m.HandleFunc("GET /admin/v1/tokens", off(s.listTokens))
	m.HandleFunc("GET /admin/v1/tokens/{serial}", off(s.showToken))
	m.HandleFunc("POST /admin/v1/tokens/{serial}", off(s.changeToken))
	m.HandleFunc("GET /admin/v1/devices", off(s.listDevices))
	m.HandleFunc("POST /admin/v1/devices/{id}/revoke", off(s.revokeDevice))
	m.HandleFunc("POST /admin/v1/piv", off(s.enrolCard(s.admin.EnrolPIV)))
	m.HandleFunc("GET /admin/v1/piv", off(s.listPIV))
	m.HandleFunc("GET /admin/v1/piv/{serial}", off(s.cardBySerial(s.showPIV)))
	m.HandleFunc("POST /admin/v1/piv/{serial}/revoke", off(s.cardBySerial(s.revokePIV)))
	m.HandleFunc("POST /admin/v1/officers/piv", off(s.enrolCard(s.admin.EnrolOfficerPIV)))
	m.HandleFunc("GET /admin/v1/officers/piv", off(s.listOfficerPIV))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
}

// routeRecorder registers routes on a mux and remembers their patterns.
type routeRecorder struct {
	s        *Server
	mux      *http.ServeMux
	patterns *[]string
}

func (r routeRecorder) HandleFunc(pattern string, h http.HandlerFunc) {
	*r.patterns = append(*r.patterns, pattern)
	r.mux.HandleFunc(pattern, h)
}

func (r routeRecorder) Handle(pattern string, h http.Handler) {
	*r.patterns = append(*r.patterns, pattern)
	r.mux.Handle(pattern, h)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeMaintenance, err.Error())
		return
	}
	fmt.Fprintln(w, "ready")
}
