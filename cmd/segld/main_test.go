package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/softhsm"
)

// syncBuffer is a log sink the server writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// segld started as make run starts it, from the environment: the probes
// answer, readiness follows the HSM login through a logout from outside,
// and the PIN appears nowhere in the log.
func TestDaemon(t *testing.T) {
	tok := softhsm.New(t)
	for _, kv := range tok.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// Find a free loopback port for the real command line.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"segld", "--listen", addr}, &logs) }()
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segld did not come up: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("readyz: %d %q", code, body)
	}

	// Something logs the process out of the token.
	p := pkcs11.New(tok.Module)
	p.Initialize()
	slots, _ := p.GetSlotList(true)
	for _, s := range slots {
		if ti, _ := p.GetTokenInfo(s); ti.Label == tok.Label {
			sh, _ := p.OpenSession(s, pkcs11.CKF_SERIAL_SESSION)
			if err := p.Logout(sh); err != nil {
				t.Fatal(err)
			}
			p.CloseSession(sh)
		}
	}
	p.Destroy()
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "session lost") {
		t.Fatalf("readyz after logout: %d %q", code, body)
	}
	// The probe that noticed reconnected; the next one is ready again.
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz after recovery: %d %q", code, body)
	}
	if code, _ := get(t, base+"/nothing"); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("segld did not stop")
	}
	out := logs.String()
	for _, want := range []string{`"msg":"segld started"`, `"token":"` + tok.Label + `"`, `"msg":"segld stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, string(tok.PIN)) {
		t.Fatal("the PIN is in the log")
	}
}

func TestDaemonRefuses(t *testing.T) {
	var logs syncBuffer
	if code := run(context.Background(), []string{"segld", "--listen", "0.0.0.0:0"}, &logs); code != 1 {
		t.Fatalf("exit %d for a non-loopback address", code)
	}
	if !strings.Contains(logs.String(), "loopback only") {
		t.Fatalf("log: %s", logs.String())
	}
	t.Setenv("SEGL_HSM_PIN_FILE", "")
	t.Setenv("SEGL_HSM_PIN", "")
	logs = syncBuffer{}
	if code := run(context.Background(), []string{"segld", "--listen", "127.0.0.1:0"}, &logs); code != 1 {
		t.Fatalf("exit %d without a PIN", code)
	}
	if !strings.Contains(logs.String(), "SEGL_HSM_PIN_FILE") {
		t.Fatalf("log does not say how to give the PIN: %s", logs.String())
	}
}
