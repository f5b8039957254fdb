package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func segld(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"segld"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "segl.yaml")
	os.WriteFile(good, []byte(`listen: 127.0.0.1:8443
database: segl.db
hsm: {token: segl}
tls: {certificate: s.pem, key: s.key, client-ca: ca.pem}
issuer: {name: segl, certificate: issuer.pem}
`), 0o600)
	if out, errOut, code := segld(t, "check-config", "--config", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("a good config: %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:8443\nhsm: {token: segl, pin: 1234}\n"), 0o600)
	_, errOut, code := segld(t, "check-config", "--config", bad)
	if code == 0 || !strings.Contains(errOut, "field pin not found") {
		t.Fatalf("a config with a PIN in it: %d %s", code, errOut)
	}
	if strings.Contains(errOut, "1234") {
		t.Fatalf("the error repeats the PIN: %s", errOut)
	}
	if _, errOut, code := segld(t); code == 0 || !strings.Contains(errOut, "--config is required") {
		t.Fatalf("no config: %d %s", code, errOut)
	}
}
