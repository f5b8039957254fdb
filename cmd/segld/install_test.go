package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/signer/config"
)

// make install puts the binaries, the unit and an example config in
// place under DESTDIR, with the unit's hardening intact and the example
// config one that segld reads.
func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	cmd := exec.Command("make", "-s", "install", "DESTDIR="+dest, "PREFIX=/usr")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"usr/bin/segl": 0o755, "usr/bin/segld": 0o755,
		"usr/lib/segl/segl-sms-kannel": 0o755, "usr/lib/segl/segl-sms-outbox": 0o755, "usr/lib/segl/segl-docverify-icao9303": 0o755,
		"usr/lib/systemd/system/segld.service": 0o644,
		"etc/segl/segl.yaml.example":           0o640,
		"usr/share/doc/segl/config.md":         0o644,
		"usr/share/man/man1/segl.1":            0o644,
		"usr/share/man/man1/segld.1":           0o644,
	} {
		st, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	out, err := exec.Command(filepath.Join(dest, "usr/bin/segld"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "segld ") {
		t.Errorf("the installed segld --version: %v %s", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/segld.service"))
	if err != nil {
		t.Fatal(err)
	}
	directives := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a directive: %q", line)
			}
			directives[section+k] = append(directives[section+k], v)
		}
	}
	for k, want := range map[string]string{
		"[Service]User": "segl", "[Service]NoNewPrivileges": "yes", "[Service]ProtectSystem": "strict", "[Service]ProtectHome": "yes",
		"[Service]PrivateTmp": "yes", "[Service]ReadWritePaths": "/var/lib/segl", "[Service]CapabilityBoundingSet": "",
		"[Service]ExecStart": "/usr/bin/segld --config /etc/segl/segl.yaml", "[Service]KillSignal": "SIGTERM",
		"[Install]WantedBy": "multi-user.target",
	} {
		if got := directives[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if strings.Contains(string(unit), "@") {
		t.Errorf("a placeholder was left in the unit:\n%s", unit)
	}
	if _, err := config.Load(filepath.Join(dest, "etc/segl/segl.yaml.example")); err != nil {
		t.Errorf("the example config does not parse:\n%v", err)
	}
}
