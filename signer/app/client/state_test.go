package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/signer/app"
)

var testKDF = KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

func testDevice(t *testing.T) *Device {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Device{ID: "4a1c0f0e-6c1b-4f4e-9d59-0a1b2c3d4e5f", User: "karen", Name: "Pixel 9", Key: k}
}

func TestStateRoundTrip(t *testing.T) {
	d := testDevice(t)
	s, err := Seal(d, []byte("2468"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %s", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "2468") {
		t.Fatal("the PIN is in the file")
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := loaded.Open([]byte("2468"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("msg"))
	sig, _ := ecdsa.SignASN1(rand.Reader, back.Key, sum[:])
	if !ecdsa.VerifyASN1(&d.Key.PublicKey, sum[:], sig) || back.ID != d.ID || back.User != "karen" {
		t.Fatal("the key or ids did not survive the round trip")
	}
	if _, err := loaded.Open([]byte("1357")); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	// Any field in the clear changed: the seal does not open.
	for _, change := range []func(*State){
		func(s *State) { s.DeviceID = "another" },
		func(s *State) { s.UserID = "mallory" },
		func(s *State) { s.KDF.Time = 2 },
		func(s *State) { s.Sealed[0] ^= 1 },
	} {
		c := *loaded
		c.Sealed = append([]byte(nil), loaded.Sealed...)
		change(&c)
		if _, err := c.Open([]byte("2468")); err == nil {
			t.Fatalf("a changed state opened: %+v", c)
		}
	}
	os.Chmod(path, 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable state: %v", err)
	}
	if _, err := Seal(d, []byte("12"), testKDF); err == nil {
		t.Fatal("a 2-character PIN was taken")
	}
}

// A signed request verifies over app.RequestInput with the device key, and
// no two requests share a nonce.
func TestSignedRequest(t *testing.T) {
	d := testDevice(t)
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		r.Body.Read(body)
		ts, err := app.ParseTime(r.Header.Get(app.HeaderTime))
		nonce := r.Header.Get(app.HeaderNonce)
		if err != nil || app.CheckNonce(nonce) != nil || seen[nonce] || r.Header.Get(app.HeaderDevice) != d.ID ||
			app.Verify(&d.Key.PublicKey, app.RequestInput(r.Method, r.URL.RequestURI(), body, ts, nonce, d.ID), r.Header.Get(app.HeaderSignature)) != nil {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"errorCode": "unauthorized", "details": "bad"})
			return
		}
		seen[nonce] = true
		json.NewEncoder(w).Encode(app.Pending{Orders: []app.PendingOrder{}})
	}))
	defer srv.Close()
	c := &Client{Base: srv.URL, HTTP: srv.Client()}
	for range 50 {
		if _, err := c.Pending(t.Context(), d, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Scan(t.Context(), d, app.Scan{QRData: "segl.x.1.y"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct nonces in 100 requests", len(seen))
	}
	other := testDevice(t)
	other.ID = d.ID
	if _, err := c.Pending(t.Context(), other, 0); !ErrUnauthorized(err) {
		t.Fatalf("another key: %v", err)
	}
}
