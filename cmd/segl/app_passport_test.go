package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
	appclient "github.com/segl/segl/signer/app/client"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/store"
)

// Remote reactivation through segl app activate --method passport: the
// password and the user's passport activate a new phone without the code
// card, and every other device of the user is revoked. A document of
// another holder, or a chip key that is not the document's, is refused
// and leaves the old phone working.
func TestAppPassportActivation(t *testing.T) {
	karen := icaotest.New(t, icaotest.Options{Surname: "BLIXEN", GivenNames: "KAREN", Nationality: "DNK",
		Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC)})
	anna := icaotest.New(t, icaotest.Options{}) // ICAO 9303's specimen: genuine, but not Karen's
	dumps := t.TempDir()
	own, other := filepath.Join(dumps, "karen"), filepath.Join(dumps, "anna")
	karen.WriteDump(own)
	anna.WriteDump(other)
	w := newAppWorldWith(t, daemontest.Options{Adapters: []daemontest.Adapter{
		daemontest.Verifier("icao", filepath.Join(own, "csca.der"), filepath.Join(other, "csca.der"))}})
	mustSegl(t, "users", "identity", "set", "--id", "karen", "--surname", "Blixen", "--given-names", "Karen", "--date-of-birth", "1985-04-17",
		"--nationality", "DNK")

	oldPhone, newPhone := filepath.Join(w.dir, "old-phone.json"), filepath.Join(w.dir, "new-phone.json")
	if _, errOut, code := w.activate(oldPhone, "Old phone"); code != 0 {
		t.Fatalf("the first device, by code card: %s", errOut)
	}
	oldState, err := appclient.Load(oldPhone)
	if err != nil {
		t.Fatal(err)
	}

	start := func() (id, challenge string) {
		t.Helper()
		out := mustSegl(t, "app", "activate", "--user", "karen", "--method", "passport", "--state", newPhone)
		m := regexp.MustCompile(`^activation (\S+): passport, document challenge ([0-9a-f]{16})\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("activate --method passport: %q", out)
		}
		return m[1], m[2]
	}
	complete := func(id string, flags ...string) (string, string, int) {
		t.Helper()
		return segl(t, append([]string{"app", "activate", "--activation", id, "--password-file", w.pw, "--pin-file", w.pin,
			"--device-name", "New phone", "--state", newPhone}, flags...)...)
	}
	// approve has the device in state approve a login of Karen's.
	approve := func(ref, state string) (string, int) {
		t.Helper()
		_, errOut, code := segl(t, "app", "approve", "--order", ref, "--state", state, "--pin-file", w.pin)
		if code == 0 {
			if c := w.collect(ref); c.Status != "complete" {
				t.Fatalf("an approved login: %+v", c)
			}
		}
		return errOut, code
	}
	login := func() string { return w.start("auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1"}) }
	lastRefusal := func() string {
		t.Helper()
		var reason string
		w.d.Store().View(t.Context(), func(r store.Reader) error {
			return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
				if s.Record.Event == audit.FactorRefused && s.Record.Details["factor"] == "passport" {
					reason = s.Record.Details["reason"]
				}
				return true, nil
			})
		})
		return reason
	}
	oldStillActive := func(after string) {
		t.Helper()
		if out := mustSegl(t, "devices", "list", "--user", "karen"); strings.Count(out, "karen") != 1 || strings.Contains(out, "revoked") {
			t.Fatalf("devices after %s:\n%s", after, out)
		}
		if errOut, code := approve(login(), oldPhone); code != 0 {
			t.Fatalf("the old phone after %s: %s", after, errOut)
		}
		if _, err := os.Stat(newPhone); err == nil {
			t.Fatalf("a state file was written after %s", after)
		}
	}

	// Anna's passport, genuine and answering with its own chip key: not
	// the user's.
	id, challenge := start()
	if _, errOut, code := complete(id, "--dir", other, "--aa-key", filepath.Join(other, "aa-key.pem"), "--challenge", challenge); code == 0 ||
		!strings.Contains(errOut, "activationFailed") {
		t.Fatalf("another holder's passport: %d %s", code, errOut)
	}
	if r := lastRefusal(); !strings.Contains(r, "the holder is not the user") {
		t.Fatalf("another holder's passport was refused for %q", r)
	}
	oldStillActive("another holder's passport")

	// Karen's passport, the challenge signed by a key that is not its
	// chip's (a cloned chip's files without the chip).
	id, challenge = start()
	if _, errOut, code := complete(id, "--dir", own, "--aa-key", filepath.Join(other, "aa-key.pem"), "--challenge", challenge); code == 0 ||
		!strings.Contains(errOut, "activationFailed") {
		t.Fatalf("a wrong chip key: %d %s", code, errOut)
	}
	if r := lastRefusal(); !strings.Contains(r, "active-authentication") {
		t.Fatalf("a wrong chip key was refused for %q", r)
	}
	oldStillActive("a wrong chip key")

	// Flags that do not fit are refused before segld sees anything: the
	// same activation completes afterwards.
	id, challenge = start()
	key := filepath.Join(own, "aa-key.pem")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--card-code", "123456", "--dir", own, "--aa-key", key, "--challenge", challenge}, "not both"},
		{[]string{"--dir", own, "--aa-key", key}, "--dir, --aa-key and --challenge, all three"},
		{[]string{"--dir", own, "--aa-key", key, "--challenge", "zz"}, "16 hex digits"},
		{[]string{"--dir", own, "--aa-key", key, "--challenge", challenge[:14]}, "16 hex digits"},
		{[]string{"--dir", own, "--aa-key", filepath.Join(own, "EF_SOD.bin"), "--challenge", challenge}, "no PEM key"},
		{[]string{"--method", "passport", "--dir", own, "--aa-key", key, "--challenge", challenge}, "--method is for the start"},
	} {
		if _, errOut, code := complete(id, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Fatalf("activate %s: %d %s", strings.Join(c.args, " "), code, errOut)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "sms"}, `--method "sms": codecard or passport`},
		{[]string{"--method", "passport", "--dir", own}, "--dir completes an activation"},
		{[]string{"--method", "passport", "--password-file", w.pw}, "--password-file completes an activation"},
	} {
		if _, errOut, code := segl(t, append([]string{"app", "activate", "--user", "karen", "--state", newPhone}, c.args...)...); code == 0 ||
			!strings.Contains(errOut, c.want) {
			t.Fatalf("activate --user karen %s: %d %s", strings.Join(c.args, " "), code, errOut)
		}
	}
	oldStillActive("the refused flags")

	// Her own passport: the new phone is activated, the old one revoked.
	out, errOut, code := complete(id, "--dir", own, "--aa-key", key, "--challenge", challenge)
	if code != 0 || !strings.Contains(out, "activated for karen") || !strings.Contains(out, "every other device of karen is revoked") {
		t.Fatalf("her passport: %d %s %s", code, out, errOut)
	}
	newState, err := appclient.Load(newPhone)
	if err != nil {
		t.Fatal(err)
	}
	out = mustSegl(t, "app", "devices", "--state", newPhone, "--pin-file", w.pin)
	oldLine := regexp.MustCompile(`(?m)^` + oldState.DeviceID + `\s.*$`).FindString(out)
	newLine := regexp.MustCompile(`(?m)^` + newState.DeviceID + `\s.*$`).FindString(out)
	if !strings.Contains(oldLine, "revoked") || strings.Contains(newLine, "revoked") || !strings.Contains(newLine, "active (this one)") {
		t.Fatalf("the devices after the passport activation:\n%s", out)
	}
	ref := login()
	if errOut, code := approve(ref, oldPhone); code == 0 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("the old phone after the passport activation: %d %s", code, errOut)
	}
	// The login the old phone could not approve is the new phone's.
	if errOut, code := approve(ref, newPhone); code != 0 {
		t.Fatalf("the new phone: %s", errOut)
	}
	var revokedBy string
	w.d.Store().View(t.Context(), func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
			if s.Record.Event == audit.DeviceRevoked && s.Record.Details["device"] == oldState.DeviceID {
				revokedBy = s.Record.Details["reason"]
			}
			return true, nil
		})
	})
	if revokedBy != "remote reactivation with a passport by "+newState.DeviceID {
		t.Fatalf("the old device's revocation in the audit: %q", revokedBy)
	}
}
