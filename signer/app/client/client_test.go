package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/segl/segl/signer/app"
)

func TestNewAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8444", "https://127.0.0.1:8444", "https://127.0.0.1:8444/"} {
		if got := New(addr, nil).Base; got != "https://127.0.0.1:8444" {
			t.Errorf("New(%q).Base = %q", addr, got)
		}
	}
}

// A device id is one path segment of the revocation, escaped, and the
// signature covers the path as sent.
func TestRevokeEscapesTheID(t *testing.T) {
	d := testDevice(t)
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.RequestURI()
		ts, _ := app.ParseTime(r.Header.Get(app.HeaderTime))
		if app.Verify(&d.Key.PublicKey, app.RequestInput(r.Method, path, nil, ts, r.Header.Get(app.HeaderNonce), d.ID), r.Header.Get(app.HeaderSignature)) != nil {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"errorCode": "unauthorized", "details": "bad"})
			return
		}
		json.NewEncoder(w).Encode(app.Revoked{ID: "x"})
	}))
	defer srv.Close()
	c := &Client{Base: srv.URL, HTTP: srv.Client()}
	if _, err := c.Revoke(t.Context(), d, "a/b?c"); err != nil {
		t.Fatal(err)
	}
	if path != "/app/v1/devices/a%2Fb%3Fc/revoke" {
		t.Fatalf("revoked at %s", path)
	}
}

func TestCheckPIN(t *testing.T) {
	if err := CheckPIN([]byte("123")); err == nil {
		t.Fatal("a 3-character PIN")
	}
	if err := CheckPIN([]byte("1234")); err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(testDevice(t), []byte("123"), testKDF); err == nil || errors.Is(err, ErrWrongPIN) {
		t.Fatalf("Seal with a 3-character PIN: %v", err)
	}
}
