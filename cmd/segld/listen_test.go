package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/cmd/segld/devenv"
)

// segld --listen serves the API on its address instead of the config's:
// two daemons on one config, each on its own port.
func TestListenOverride(t *testing.T) {
	t.Setenv("SOFTHSM2_CONF", "") // Setup sets it for the process; this restores it
	dir := t.TempDir()
	// The config's own listen is a port no one is told: were it used, no
	// daemon would be found below.
	e, err := devenv.Setup(dir, devenv.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "\nlisten: 127.0.0.1:0\n") {
		t.Fatalf("the dev config's listen is not 127.0.0.1:0:\n%s", cfg)
	}

	// Refused before anything starts: not an address, or one that
	// another listener has too. (Were one taken, segld would serve: the
	// context ends it, and the test fails rather than hangs.)
	refused := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, errOut syncBuffer
		code := run(ctx, append([]string{"segld", "--config", e.Config}, args...), &out, &errOut)
		return errOut.String(), code
	}
	if errOut, code := refused("--listen", "8443"); code != 1 || errOut != "segld: --listen \"8443\" is not host:port\n" {
		t.Fatalf("--listen 8443: %d %q", code, errOut)
	}
	if errOut, code := refused("--listen", "127.0.0.1:8443", "--app-listen", "127.0.0.1:8443"); code != 1 ||
		errOut != "app-listen: \"127.0.0.1:8443\" is another listener's address too\n" {
		t.Fatalf("--app-listen on --listen's address: %d %q", code, errOut)
	}

	env := []string{"SOFTHSM2_CONF=" + e.Token.Conf}
	addrA, addrB, opsB := freeAddr(t), freeAddr(t), freeAddr(t)
	off := mtlsClient(t, e.TLSCA, e.Cert, e.Key)
	// One after the other, as TestOneOTPTwoDaemons: the first makes the
	// database.
	startSegld(t, env, "--config", e.Config, "--listen", addrA)
	waitHealthy(t, off, "https://"+addrA)
	startSegld(t, env, "--config", e.Config, "--listen", addrB, "--ops-listen", opsB)
	waitHealthy(t, off, "https://"+addrB)
	// --ops-listen too: plain HTTP, no client certificate.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + opsB + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("--ops-listen's /healthz: %d", resp.StatusCode)
	}
	// One database: a user made through one daemon is the other's.
	var user struct{ ID string }
	body := []byte(`{"id":"ida","name":"Ida"}`)
	if code := call(t, off, "POST", "https://"+addrA+"/admin/v1/users", "application/json", body, nil); code != 201 {
		t.Fatalf("create a user on A: %d", code)
	}
	if code := call(t, off, "GET", "https://"+addrB+"/admin/v1/users/ida", "", nil, &user); code != 200 || user.ID != "ida" {
		t.Fatalf("the user on B: %d %+v", code, user)
	}
}
