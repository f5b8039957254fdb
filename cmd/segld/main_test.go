package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/config"
)

func segld(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"segld"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// devSetup makes a development setup (token, keys, certificates, config)
// in a temporary directory.
func devSetup(t *testing.T) *devenv.Env {
	t.Helper()
	t.Setenv("SOFTHSM2_CONF", "") // Setup sets it for the process; this restores it
	e, err := devenv.Setup(t.TempDir(), devenv.Options{Listen: "127.0.0.1:0", OpsListen: "127.0.0.1:0", Outbox: outboxBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// outboxBinary builds the development SMS adapter for the test.
func outboxBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	os.Mkdir(dir, 0o755)
	p := filepath.Join(dir, "segl-sms-outbox")
	if out, err := exec.Command("go", "build", "-o", p, "github.com/segl/segl/cmd/segl-sms-outbox").CombinedOutput(); err != nil {
		t.Fatalf("build the outbox: %v\n%s", err, out)
	}
	return p
}

// edit writes a copy of the setup's config with replacements made.
func edit(t *testing.T, e *devenv.Env, name string, oldNew ...string) string {
	t.Helper()
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("the dev config has no %q", oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	path := filepath.Join(e.Dir, name)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	e := devSetup(t)
	if out, errOut, code := segld(t, "check-config", "--config", e.Config); code != 0 || out != e.Config+": ok\n" {
		t.Fatalf("the dev config: %d %q %s", code, out, errOut)
	}
	if out, errOut, code := segld(t, "check-config", "--hsm", "--config", e.Config); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("the dev config with --hsm: %d %s %s", code, out, errOut)
	}
	// Everything wrong at once, one a line, in plain text, each naming
	// its key; segld itself refuses to start with the same lines.
	bad := edit(t, e, "bad.yaml",
		"  max-failures: 5\n  block: 15m\n  challenge-reissues", "  max-failure: 5\n  block: 15m\n  challenge-reissues",
		"expiry: 3m", "expiry: 3 minutes",
		"  pin-file:", "  pin: 1234\n  pin-file:")
	_, errOut, code := segld(t, "check-config", "--config", bad)
	want := []string{
		"orders.expiry: \"3 minutes\" is not a duration like 3m or 90s",
		"orders.max-failure: unknown key (did you mean orders.max-failures?)",
		"hsm.pin: unknown key (did you mean hsm.pin-file?)",
	}
	if code != 1 || len(strings.Split(strings.TrimSpace(errOut), "\n")) != len(want) {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w+"\n") {
			t.Errorf("no line %q in\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "1234") || strings.Contains(errOut, "{") {
		t.Fatalf("the errors repeat the PIN, or are not plain text: %s", errOut)
	}
	if _, startErr, code := segld(t, "--config", bad); code != 1 || startErr != errOut {
		t.Fatalf("segld's refusal differs from check-config's: %d\n%s", code, startErr)
	}
	// Files: a missing certificate, a key that is not the certificate's.
	files := edit(t, e, "files.yaml", "certificate: tls/server.pem", "certificate: tls/nope.pem", "client-ca: tls/ca.pem", "client-ca: tls/rp.key")
	_, errOut, code = segld(t, "check-config", "--config", files)
	if code != 1 || !strings.Contains(errOut, "tls.certificate: open tls/nope.pem: no such file\n") || !strings.Contains(errOut, "tls.client-ca: tls/rp.key: no PEM certificate in it\n") {
		t.Fatalf("files: %d %s", code, errOut)
	}
	if _, startErr, code := segld(t, "--config", files); code != 1 || startErr != errOut {
		t.Fatalf("segld's refusal differs: %d\n%s", code, startErr)
	}
	mismatched := edit(t, e, "mismatched.yaml", "key: tls/server.key", "key: tls/rp.key")
	if _, errOut, code := segld(t, "check-config", "--config", mismatched); code != 1 || !strings.Contains(errOut, "tls.certificate: with tls.key: private key does not match public key") {
		t.Fatalf("a key that is not the certificate's: %d %s", code, errOut)
	}
	// --hsm: a label with no key, and a key of the wrong type.
	keys := edit(t, e, "keys.yaml", "issuer: issuer", "issuer: nope", "audit: audit", "audit: pepper")
	if _, errOut, code := segld(t, "check-config", "--config", keys); code != 0 {
		t.Fatalf("without --hsm the labels are not checked: %d %s", code, errOut)
	}
	_, errOut, code = segld(t, "check-config", "--hsm", "--config", keys)
	if code != 1 || !strings.Contains(errOut, `keys.issuer: no key is labelled "nope"`) || !strings.Contains(errOut, `keys.audit: the key "pepper" is hmac-sha256; it must be an ECDSA`) {
		t.Fatalf("--hsm: %d %s", code, errOut)
	}
	if _, errOut, code := segld(t); code == 0 || !strings.Contains(errOut, "--config is required") {
		t.Fatalf("no config: %d %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, errOut, code := segld(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "segld ") || len(strings.TrimSpace(out)) <= len("segld ") || errOut != "" {
		t.Fatalf("--version: %d %q %q", code, out, errOut)
	}
}

// segld dev writes every key of the config.
func TestDevConfigHasEveryKey(t *testing.T) {
	e := devSetup(t)
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], path)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		default:
			have[path] = true
		}
	}
	walk(&doc, "")
	// A key matches what the config has under it: a list's items ([]), a
	// mapping's keys (* in the key, or keys below a mapping of text).
	has := func(k string) bool {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(k), `\*`, `[^.]+`) + `(\[\]|\..+)?$`)
		for p := range have {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
	for _, k := range config.KeyPaths() {
		// database is a string or a block: the string (a SQLite file)
		// stands for the block's keys.
		if strings.HasPrefix(k, "database.") && have["database"] {
			continue
		}
		if !has(k) {
			t.Errorf("the dev config has no %s", k)
		}
	}
}

// A first start of segld dev, and a stop, say nothing at WARN or ERROR:
// what happens on every start is not a warning.
func TestDevStartIsQuiet(t *testing.T) {
	t.Setenv("SOFTHSM2_CONF", "")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"segld", "dev", "--dir", dir, "--listen", "127.0.0.1:0", "--ops-listen", ""}, &out, &errOut)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(errOut.String(), "segld started") {
		if time.Now().After(deadline) {
			t.Fatalf("segld dev did not start:\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) || !strings.HasPrefix(line, "{") {
			t.Errorf("a first start says: %s", line)
		}
	}
}

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
