package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An activation that could not save its key is refused before segld
// spends the card code: a PIN too short, a --state holding another
// device. Nothing is registered.
func TestAppActivationRefusedBeforeSpending(t *testing.T) {
	w := newAppWorld(t)
	phone := filepath.Join(w.dir, "phone.json")
	start := func() (string, string) {
		out := mustSegl(t, "app", "activate", "--user", "karen", "--state", phone)
		m := regexp.MustCompile(`^activation (\S+): card [0-9]{10}, key number ([0-9]{4})\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("activate --user: %q", out)
		}
		return m[1], w.card[m[2]]
	}
	short := filepath.Join(w.dir, "short")
	os.WriteFile(short, []byte("12\n"), 0o600)
	id, code := start()
	if _, errOut, exit := segl(t, "app", "activate", "--activation", id, "--card-code", code, "--password-file", w.pw,
		"--pin-file", short, "--device-name", "X", "--state", phone); exit == 0 || !strings.Contains(errOut, "at least 4") {
		t.Fatalf("a 2-character PIN: %d %s", exit, errOut)
	}
	if out := mustSegl(t, "devices", "list", "--user", "karen"); strings.Contains(out, "karen") {
		t.Fatalf("a device was registered for the refused activation:\n%s", out)
	}
	if _, err := os.Stat(phone); err == nil {
		t.Fatal("a state file was written")
	}
	// The same activation completes with a good PIN: nothing was spent.
	if _, errOut, exit := segl(t, "app", "activate", "--activation", id, "--card-code", code, "--password-file", w.pw,
		"--pin-file", w.pin, "--device-name", "First", "--state", phone); exit != 0 {
		t.Fatalf("the same activation with a good PIN: %s", errOut)
	}
	first, _ := os.ReadFile(phone)
	id, code = start()
	_, errOut, exit := segl(t, "app", "activate", "--activation", id, "--card-code", code, "--password-file", w.pw,
		"--pin-file", w.pin, "--device-name", "Second", "--state", phone)
	dev := regexp.MustCompile(`holds device (\S+) of karen already`).FindStringSubmatch(errOut)
	if exit == 0 || dev == nil || !strings.Contains(errOut, "--replace "+dev[1]) {
		t.Fatalf("an activation over an existing state: %d %s", exit, errOut)
	}
	if again, _ := os.ReadFile(phone); string(again) != string(first) {
		t.Fatal("the refused activation changed the state file")
	}
	if out := mustSegl(t, "devices", "list", "--user", "karen"); strings.Count(out, "karen") != 1 {
		t.Fatalf("the refused activation registered a device:\n%s", out)
	}
	// Reactivating the device the state holds may write over it.
	if out, errOut, exit := w.activate(phone, "Second", "--replace", dev[1]); exit != 0 || !strings.Contains(out, "activated for karen") {
		t.Fatalf("reactivation over its own state: %d %s %s", exit, out, errOut)
	}
	if out := mustSegl(t, "devices", "list", "--user", "karen"); strings.Count(out, "active") != 1 || !strings.Contains(out, "revoked") {
		t.Fatalf("devices after the reactivation:\n%s", out)
	}
	mustSegl(t, "app", "pending", "--state", phone, "--pin-file", w.pin)

	// SEGL_APP_ADDR may name the scheme too.
	t.Setenv("SEGL_APP_ADDR", "https://"+w.d.AppAddr)
	mustSegl(t, "app", "devices", "--state", phone, "--pin-file", w.pin)
}
