package api

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
)

// The app API (/app/v1/…) on its own listener: TLS with the server's
// certificate and no client certificate, since phones have none. A device
// is who its request signature says (docs/app.md); activation, before
// there is a device, needs the password and the code card.

// AppOpenAPI describes the app API; the app listener serves it at
// GET /app/v1/openapi.yaml, and the tests check every request and answer
// of theirs against it.
//
//go:embed app-openapi.yaml
var AppOpenAPI []byte

const codeTooManyDevices = "tooManyDevices"
const codeActivationFailed = "activationFailed"

// AppTLSConfig is the app listener's TLS: 1.3 (as every phone of the
// last years speaks), the server certificate, no client certificate.
func AppTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, ClientAuth: tls.NoClientCert}
}

// AppHandler serves the app API.
func (s *Server) AppHandler() http.Handler {
	m := http.NewServeMux()
	s.appRoutes(routeRecorder{s, m, &s.appPatterns})
	return s.observe(m)
}

func (s *Server) appRoutes(m routeRecorder) {
	m.HandleFunc("GET /app/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(AppOpenAPI)
	})
	m.HandleFunc("POST "+app.PathActivationStart, s.activationStart)
	m.HandleFunc("POST "+app.PathActivationComplete, s.activationComplete)
	m.HandleFunc("GET "+app.PathPending, s.signed(s.appPending))
	m.HandleFunc("POST "+app.PathApprove, s.signed(s.appApprove))
	m.HandleFunc("POST "+app.PathScan, s.signed(s.appScan))
	m.HandleFunc("POST "+app.PathDocument, s.signed(s.appDocument))
	m.HandleFunc("GET "+app.PathDevices, s.signed(s.appDevices))
	m.HandleFunc("POST "+app.PathDevices+"/{id}/revoke", s.signed(s.appRevoke))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint of the app API: "+r.Method+" "+r.URL.Path)
	})
}

type deviceKey struct{}

// deviceOf is the device that signed a request that passed signed.
func deviceOf(r *http.Request) *store.Device { return r.Context().Value(deviceKey{}).(*store.Device) }

// signed admits a request only when an active device signed it, as
// docs/app.md says: method, path and query, body, time and a nonce it has
// not sent before. The body is read here, bounded, and given to h again.
func (s *Server) signed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, codeInvalid, fmt.Sprintf("the body could not be read, or is larger than %d bytes", s.maxBody))
			return
		}
		d, err := s.orders.Authenticate(r.Context(), r.Header.Get(app.HeaderDevice), r.Method, r.URL.RequestURI(), body,
			r.Header.Get(app.HeaderTime), r.Header.Get(app.HeaderNonce), r.Header.Get(app.HeaderSignature))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		noteCaller(r, "device:"+d.ID)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r.WithContext(context.WithValue(r.Context(), deviceKey{}, d)))
	}
}

func (s *Server) activationStart(w http.ResponseWriter, r *http.Request) {
	req, err := decode[app.ActivationStart](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteCaller(r, "app")
	resp, err := s.orders.StartActivation(r.Context(), req.UserID, req.Method)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, resp.ActivationID)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) activationComplete(w http.ResponseWriter, r *http.Request) {
	req, err := decode[app.ActivationComplete](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteCaller(r, "app")
	noteOrder(r, req.ActivationID)
	resp, err := s.orders.CompleteActivation(r.Context(), req)
	var many *orders.TooManyDevicesError
	switch {
	case errors.As(err, &many):
		out := app.TooManyDevices{ErrorCode: codeTooManyDevices, Details: many.Error(), Devices: []app.Device{}}
		for _, d := range many.Devices {
			out.Devices = append(out.Devices, deviceView(d, ""))
		}
		writeJSON(w, http.StatusConflict, out)
	case errors.Is(err, orders.ErrActivationFailed):
		writeError(w, http.StatusBadRequest, codeActivationFailed, err.Error())
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

func (s *Server) appPending(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if q := r.URL.Query(); len(q) > 0 {
		v := q.Get("wait")
		n, err := strconv.Atoi(v)
		if len(q) != 1 || len(q["wait"]) != 1 || err != nil || n < 0 || n > int(app.MaxWait/time.Second) || v != strconv.Itoa(n) {
			writeError(w, http.StatusBadRequest, codeInvalid, fmt.Sprintf("the only query parameter is wait, 0 to %d seconds", int(app.MaxWait/time.Second)))
			return
		}
		wait = time.Duration(n) * time.Second
	}
	resp, err := s.orders.Pending(r.Context(), deviceOf(r), wait)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) appApprove(w http.ResponseWriter, r *http.Request) {
	req, err := decode[app.Approve](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	resp, err := s.orders.Approve(r.Context(), deviceOf(r), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) appScan(w http.ResponseWriter, r *http.Request) {
	req, err := decode[app.Scan](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.orders.Scan(r.Context(), deviceOf(r), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, resp.OrderRef)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) appDocument(w http.ResponseWriter, r *http.Request) {
	req, err := decode[app.Document](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	resp, err := s.orders.SubmitDocument(r.Context(), deviceOf(r), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) appDevices(w http.ResponseWriter, r *http.Request) {
	d := deviceOf(r)
	ds, err := s.orders.Devices(r.Context(), d.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, devicesView(ds, d.ID))
}

func (s *Server) appRevoke(w http.ResponseWriter, r *http.Request) {
	d := deviceOf(r)
	rev, err := s.orders.RevokeDevice(r.Context(), r.PathValue("id"), d.User, "device:"+d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app.Revoked{ID: rev.ID, Revoked: rev.Revoked.UTC()})
}

// Officers' view of devices, on the admin API.

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("userId")
	if user != "" {
		if err := orders.CheckUserID(user); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	ds, err := s.orders.Devices(r.Context(), user)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, devicesView(ds, ""))
}

func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request) {
	rev, err := s.orders.RevokeDevice(r.Context(), r.PathValue("id"), "", "officer:"+callerOf(r).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app.Revoked{ID: rev.ID, Revoked: rev.Revoked.UTC()})
}

func devicesView(ds []*store.Device, current string) app.Devices {
	out := app.Devices{Devices: []app.Device{}}
	for _, d := range ds {
		out.Devices = append(out.Devices, deviceView(d, current))
	}
	return out
}

func deviceView(d *store.Device, current string) app.Device {
	v := app.Device{ID: d.ID, UserID: d.User, Name: d.Name, KeyStorage: d.KeyStorage, Biometry: d.Biometry, Created: d.Created.UTC(),
		Current: d.ID == current && current != ""}
	if !d.LastUsed.IsZero() {
		t := d.LastUsed.UTC()
		v.LastUsed = &t
	}
	if !d.Revoked.IsZero() {
		t := d.Revoked.UTC()
		v.Revoked = &t
	}
	return v
}
