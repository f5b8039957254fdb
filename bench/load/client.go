package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// apiError is an answer of segld that was not the one the flow needs.
type apiError struct {
	Method, Path string
	Status       int
	Code         string // errorCode
	Details      string
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Details)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Details)
}

// balancer spreads requests over several daemons, one after the other,
// as a round-robin load balancer does: every request, not every order, so
// that an order's start, factors and collect may each reach another
// daemon.
type balancer struct {
	addrs []string // https://host:port
	next  atomic.Uint64
}

func (b *balancer) pick() string {
	return b.addrs[(b.next.Add(1)-1)%uint64(len(b.addrs))]
}

// api is a caller of segld's mutual-TLS API with one client certificate.
type api struct {
	http *http.Client
	lb   *balancer
}

// tlsPool reads a PEM bundle of CA certificates.
func tlsPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// transport keeps a connection per worker alive to each daemon: a load
// test of orders, not of TLS handshakes.
func transport(roots *x509.CertPool, cert *tls.Certificate, conns int) *http.Transport {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{TLSClientConfig: cfg, MaxIdleConns: 4 * conns, MaxIdleConnsPerHost: conns + 4,
		IdleConnTimeout: 2 * time.Minute, TLSHandshakeTimeout: 30 * time.Second, ForceAttemptHTTP2: false}
}

func newAPI(roots *x509.CertPool, certFile, keyFile string, lb *balancer, conns int) (*api, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate %s: %w", certFile, err)
	}
	return &api{http: &http.Client{Transport: transport(roots, &c, conns), Timeout: 2 * time.Minute}, lb: lb}, nil
}

// call sends body (JSON, or raw bytes with contentType) to path on the
// next daemon and decodes a 2xx answer into out. Any other answer is an
// *apiError.
func (a *api) call(ctx context.Context, method, path string, body any, out any) error {
	return a.callAt(ctx, a.lb.pick(), method, path, "application/json", body, out)
}

func (a *api) callAt(ctx context.Context, base, method, path, contentType string, body any, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Method: method, Path: path, Status: resp.StatusCode}
		var ej struct {
			ErrorCode string `json:"errorCode"`
			Details   string `json:"details"`
		}
		if json.Unmarshal(raw, &ej) == nil && ej.ErrorCode != "" {
			e.Code, e.Details = ej.ErrorCode, ej.Details
		} else {
			e.Details = strings.TrimSpace(string(raw))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if s, ok := out.(*string); ok {
		*s = string(raw)
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

// isCode reports whether err is segld's answer with errorCode code.
func isCode(err error, code string) bool {
	var e *apiError
	return errors.As(err, &e) && e.Code == code
}
