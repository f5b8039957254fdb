package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// apiClient calls segld's admin API over mutual TLS, configured by
// SEGL_ADDR (https://host:port), SEGL_CA (the server's CA, PEM), and
// SEGL_CERT / SEGL_KEY (the officer's client certificate and key).
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient() (*apiClient, error) {
	need := func(name, what string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s is not set: it names %s (`. .segl/env` sets it for the development daemon)", name, what)
		}
		return v, nil
	}
	addr, err := need("SEGL_ADDR", "segld's address, like https://127.0.0.1:8443")
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(addr); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("SEGL_ADDR %q: want https://host:port", addr)
	}
	caPath, err := need("SEGL_CA", "the PEM file of the CA of segld's server certificate")
	if err != nil {
		return nil, err
	}
	certPath, err := need("SEGL_CERT", "the officer's client certificate (PEM)")
	if err != nil {
		return nil, err
	}
	keyPath, err := need("SEGL_KEY", "the officer's client key (PEM)")
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("SEGL_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("SEGL_CA: %s holds no PEM certificate", caPath)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("SEGL_CERT / SEGL_KEY: %w", err)
	}
	return &apiClient{base: strings.TrimRight(addr, "/"), http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}}, nil
}

// apiError is segld's error body.
type apiError struct {
	Status    int
	ErrorCode string `json:"errorCode"`
	Details   string `json:"details"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("segld answered %d %s: %s", e.Status, e.ErrorCode, e.Details)
}

// do sends body as JSON and decodes a 2xx answer into out.
func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.ErrorCode == "" {
			return fmt.Errorf("segld answered %s", resp.Status)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("segld's answer: %w", err)
	}
	return nil
}

// unreachable says why segld could not be reached, and where to look.
func (c *apiClient) unreachable(err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach segld at %s: is it running? (SEGL_ADDR)", c.base)
	case errors.As(err, &dns):
		return fmt.Errorf("cannot reach segld at %s: no such host %q (SEGL_ADDR)", c.base, dns.Name)
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &host):
		return fmt.Errorf("segld at %s is not the server SEGL_CA vouches for: %w", c.base, err)
	case strings.Contains(err.Error(), "remote error: tls"):
		return fmt.Errorf("segld at %s refused this client certificate (SEGL_CERT): %w", c.base, err)
	}
	return fmt.Errorf("cannot reach segld at %s (SEGL_ADDR): %w", c.base, err)
}

// readSecretFile reads a password or similar from a file, without its
// trailing newline. Secrets never come from flags.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("no file given")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
