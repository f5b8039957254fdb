package main

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/tokens/codecard"
)

// segl runs the CLI as typed, returning stdout, stderr and the exit code.
func segl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"segl"}, args...), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func mustSegl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := segl(t, args...)
	if code != 0 {
		t.Fatalf("segl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// useDaemon points the CLI at d, as `. DIR/env` does.
func useDaemon(t *testing.T, d *daemontest.Daemon) {
	t.Setenv("SEGL_ADDR", d.Addr)
	t.Setenv("SEGL_CA", d.Dev.TLSCA)
	t.Setenv("SEGL_CERT", d.Dev.Cert)
	t.Setenv("SEGL_KEY", d.Dev.Key)
	t.Setenv("SEGL_HSM_MODULE", d.Dev.Token.Module)
	t.Setenv("SEGL_HSM_TOKEN", d.Dev.Token.Label)
	t.Setenv("SEGL_HSM_PIN_FILE", d.Dev.Token.PINFile)
}

func TestAdminCommands(t *testing.T) {
	d := daemontest.Start(t)
	useDaemon(t, d)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("correct horse\n"), 0o600)

	out := mustSegl(t, "users", "create", "--id", "alice", "--name", "Alice Andersen", "--password-file", pw, "--phone", "+4512345678")
	for _, want := range []string{"id:       alice", "password: true", "-----BEGIN CERTIFICATE-----"} {
		if !strings.Contains(out, want) {
			t.Fatalf("users create printed %q, missing %q", out, want)
		}
	}
	if _, errOut, code := segl(t, "users", "create", "--id", "alice", "--name", "Again"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("a duplicate user: %d %s", code, errOut)
	}
	if out := mustSegl(t, "users", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "active") {
		t.Fatal(out)
	}
	if out := mustSegl(t, "users", "disable", "--id", "alice"); !strings.Contains(out, "state:    disabled") {
		t.Fatal(out)
	}
	mustSegl(t, "users", "enable", "--id", "alice")
	os.WriteFile(pw, []byte("battery staple\n"), 0o600)
	mustSegl(t, "users", "password", "set", "--id", "alice", "--password-file", pw)
	if _, errOut, code := segl(t, "users", "show", "--id", "nobody"); code == 0 || !strings.Contains(errOut, "404") {
		t.Fatalf("an unknown user: %d %s", code, errOut)
	}

	// An RP certificate is not an officer's.
	t.Setenv("SEGL_CERT", d.Dev.RPCert)
	t.Setenv("SEGL_KEY", d.Dev.RPKey)
	if _, errOut, code := segl(t, "users", "list"); code == 0 || !strings.Contains(errOut, "403") {
		t.Fatalf("an RP certificate on the admin API: %d %s", code, errOut)
	}
	useDaemon(t, d)

	if out := mustSegl(t, "rp", "list"); !strings.Contains(out, "dev-rp") {
		t.Fatal(out)
	}
	if _, errOut, code := segl(t, "rp", "create", "--id", "bank", "--name", "Bank", "--cert", d.Dev.RPCert); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("a certificate registered twice: %d %s", code, errOut)
	}
	if out := mustSegl(t, "rp", "disable", "--id", "dev-rp"); !strings.Contains(out, "disabled") {
		t.Fatal(out)
	}

	// A code card, printed: pdftotext reads back every pair of the card.
	pdf := filepath.Join(dir, "card.pdf")
	out = mustSegl(t, "codecards", "issue", "--user", "alice", "--out", pdf)
	if !strings.Contains(out, "status active") {
		t.Fatal(out)
	}
	serial := strings.Fields(out)[3]
	text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pairs := regexp.MustCompile(`\b([0-9]{4}) ([0-9]{6})\b`).FindAllStringSubmatch(string(text), -1)
	if len(pairs) != 148 || !strings.Contains(string(text), "Code card "+serial) || !strings.Contains(string(text), "Alice Andersen") {
		t.Fatalf("pdftotext found %d pairs in:\n%s", len(pairs), text)
	}
	// The codes printed are the HSM's: each one is its key number's code.
	master, err := d.Keystore().HMAC("codecard")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := codecard.KeyNumbers(master, serial)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, k := range keys {
		index[fmt.Sprintf("%04d", k)] = i
	}
	for _, p := range pairs {
		i, ok := index[p[1]]
		if !ok {
			t.Fatalf("key number %s is not on card %s", p[1], serial)
		}
		if want, _ := codecard.Code(master, serial, i); want != p[2] {
			t.Fatalf("key %s printed with %s, the HSM says %s", p[1], p[2], want)
		}
	}
	if _, errOut, code := segl(t, "codecards", "issue", "--user", "alice", "--out", pdf); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("an existing PDF was overwritten: %d %s", code, errOut)
	}
	// Refused before the server issued anything: no second card exists.
	if out := mustSegl(t, "codecards", "list", "--user", "alice"); !strings.Contains(out, serial) || !strings.Contains(out, "active") || strings.Contains(out, "pending") {
		t.Fatal(out)
	}
	mustSegl(t, "codecards", "revoke", "--serial", serial)

	// OTP tokens from RFC 6030 figure 2.
	out = mustSegl(t, "tokens", "import", "--file", "../../testvectors/pskc/rfc6030-figure2.pskc")
	if !strings.Contains(out, "imported 1 token from") {
		t.Fatal(out)
	}
	if _, errOut, code := segl(t, "tokens", "import", "--file", "../../testvectors/pskc/rfc6030-figure2.pskc"); code == 0 || !strings.Contains(errOut, "987654321 is imported already") {
		t.Fatalf("a second import: %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "tokens", "import", "--file", "../../testvectors/pskc/rfc6030-figure1.pskc"); code == 0 || !strings.Contains(errOut, "KeyPackage 1") {
		t.Fatalf("figure 1: %d %s", code, errOut)
	}
	mustSegl(t, "tokens", "assign", "--serial", "987654321", "--user", "alice")
	if out := mustSegl(t, "tokens", "list", "--user", "alice"); !strings.Contains(out, "987654321") || !strings.Contains(out, "hotp/sha1") {
		t.Fatal(out)
	}
	mustSegl(t, "tokens", "unblock", "--serial", "987654321")
	mustSegl(t, "tokens", "unassign", "--serial", "987654321")

	// Sealed batches: python-pskc's AES-256 batch with the key as raw
	// bytes in a file; a wrong key, then a changed MAC, import nothing.
	sealedDir := t.TempDir()
	keyFile, pwFile := filepath.Join(sealedDir, "transport.key"), filepath.Join(sealedDir, "password")
	writeFile := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const batch = "../../testvectors/pskc/pskc-utils-psk-aes256.pskc"
	writeFile(keyFile, strings.Repeat("\xff", 32))
	if _, errOut, code := segl(t, "tokens", "import", "--file", batch, "--psk-file", keyFile); code == 0 || !strings.Contains(errOut, "nothing from this file was imported") {
		t.Fatalf("a wrong transport key: %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "tokens", "import", "--file", batch); code == 0 || !strings.Contains(errOut, "--psk-file") {
		t.Fatalf("a sealed batch without its key: %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "tokens", "show", "--serial", "SEGL-PSKC-0001"); code == 0 || !strings.Contains(errOut, "notFound") {
		t.Fatalf("refused batches left a token: %d %s", code, errOut)
	}
	raw, err := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(keyFile, string(raw))
	if out := mustSegl(t, "tokens", "import", "--file", batch, "--psk-file", keyFile); !strings.Contains(out, "imported 3 tokens from") {
		t.Fatal(out)
	}
	// The seed inside the HSM is RFC 4226's: its codes for counters 0
	// and 1 resynchronise the token to counter 2.
	if out := mustSegl(t, "tokens", "resync", "--serial", "SEGL-PSKC-0001", "--otp1", "755224", "--otp2", "287082"); !strings.Contains(out, "resynchronised token SEGL-PSKC-0001") || !strings.Contains(out, "next counter 2") {
		t.Fatal(out)
	}
	if out := mustSegl(t, "tokens", "show", "--serial", "SEGL-PSKC-0003"); !strings.Contains(out, "totp/sha1") || !strings.Contains(out, "8 digits") {
		t.Fatal(out)
	}
	// YubiKeys from ykman's CSV, told apart by the file's extension.
	csvFile := filepath.Join(sealedDir, "yubikeys.csv")
	writeFile(csvFile, "4711,ccccccbchvth,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db,,2026-11-22T10:00:00,\n")
	if _, errOut, code := segl(t, "tokens", "import", "--file", csvFile, "--psk-file", keyFile); code == 0 || !strings.Contains(errOut, "not encrypted") {
		t.Fatalf("a key with a CSV: %d %s", code, errOut)
	}
	if out := mustSegl(t, "tokens", "import", "--file", csvFile); !strings.Contains(out, "imported 1 token from") {
		t.Fatal(out)
	}
	if out := mustSegl(t, "tokens", "show", "--serial", "4711"); !strings.Contains(out, "yubico ccccccbchvth") || !strings.Contains(out, "not used yet") || strings.Contains(out, "-1") {
		t.Fatal(out)
	}

	// RFC 6030 figure 7, with its password in a file (the newline is
	// not part of it); serial 987654321 is taken, so it is refused
	// only after the password opened it.
	writeFile(pwFile, "qwertz\n")
	if _, errOut, code := segl(t, "tokens", "import", "--file", "../../testvectors/pskc/rfc6030-figure7.pskc", "--password-file", pwFile); code == 0 || !strings.Contains(errOut, "nothing from this file was imported") {
		t.Fatalf("a wrong password: %d %s", code, errOut)
	}
	writeFile(pwFile, "qwerty\n")
	if _, errOut, code := segl(t, "tokens", "import", "--file", "../../testvectors/pskc/rfc6030-figure7.pskc", "--password-file", pwFile); code == 0 || !strings.Contains(errOut, "987654321 is imported already") {
		t.Fatalf("figure 7: %d %s", code, errOut)
	}

	// The audit log holds all of it, and verifies.
	if _, err := d.Seal(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	out = mustSegl(t, "audit", "verify")
	if !strings.Contains(out, "audit chain ok") {
		t.Fatal(out)
	}
	// Edit one record in the database file, as someone with the file could.
	db, err := sql.Open("sqlite3", d.Dev.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq int
	if err := db.QueryRow(`SELECT seq FROM audit WHERE event = 'admin.user.disabled'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET actor = 'officer:someone-else' WHERE seq = ?`, seq); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := segl(t, "audit", "verify")
	if code != 1 || !strings.Contains(errOut, "broken at record "+strconv.Itoa(seq)) {
		t.Fatalf("an edited record %d: exit %d: %s", seq, code, errOut)
	}
}

// segl dev rp-cert makes a relying party's certificate from a segld dev
// setup, which segl rp create takes and which then reaches the RP API; a
// directory segld dev did not make is refused.
func TestDevRPCert(t *testing.T) {
	d := daemontest.Start(t)
	useDaemon(t, d)
	out := t.TempDir()
	if got := mustSegl(t, "dev", "rp-cert", "--id", "webshop", "--out", out); !strings.Contains(got, "segl rp create --id webshop") {
		t.Fatal(got)
	}
	if _, errOut, code := segl(t, "dev", "rp-cert", "--id", "webshop", "--out", out); code == 0 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("a second certificate over the first: %d %s", code, errOut)
	}
	mustSegl(t, "rp", "create", "--id", "webshop", "--name", "Web shop", "--cert", filepath.Join(out, "webshop.pem"))
	rp := client(t, d, filepath.Join(out, "webshop.pem"), filepath.Join(out, "webshop.key"))
	var o struct{ OrderRef string }
	if code := post(t, rp, d.Addr+"/rp/v1/auth", map[string]string{"endUserIp": "192.0.2.1"}, &o); code != 200 || o.OrderRef == "" {
		t.Fatalf("the new RP starts an order: %d", code)
	}
	if st, err := os.Stat(filepath.Join(out, "webshop.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the key's mode: %v %v", st, err)
	}
	notDev := t.TempDir()
	if _, errOut, code := segl(t, "dev", "rp-cert", "--id", "x", "--out", t.TempDir(), "--dir", notDev); code == 0 || !strings.Contains(errOut, "is not a directory segld dev made") {
		t.Fatalf("a directory segld dev did not make: %d %s", code, errOut)
	}
}

// An officer sets and deletes a user's mobile number (shown masked), lists
// the SMS sent (never a code) and the plugins.
func TestSMSCommands(t *testing.T) {
	d := daemontest.StartWith(t, daemontest.Options{SMS: true})
	useDaemon(t, d)
	mustSegl(t, "users", "create", "--id", "lis", "--name", "Lis")
	if out := mustSegl(t, "users", "phone", "set", "--id", "lis", "--phone", "+4512345678"); !strings.Contains(out, "phone of lis set: +45 •••• ••78") {
		t.Fatal(out)
	}
	if out := mustSegl(t, "users", "show", "--id", "lis"); !strings.Contains(out, "+45 •••• ••78") || strings.Contains(out, "12345678") {
		t.Fatalf("users show: %s", out)
	}
	if _, errOut, code := segl(t, "users", "phone", "set", "--id", "lis", "--phone", "12345678"); code == 0 || !strings.Contains(errOut, "E.164") {
		t.Fatalf("a number without its country: %d %s", code, errOut)
	}
	rp := client(t, d, d.Dev.RPCert, d.Dev.RPKey)
	var o struct{ OrderRef string }
	post(t, rp, d.Addr+"/rp/v1/auth", map[string]string{"userId": "lis", "endUserIp": "192.0.2.1"}, &o)
	var sent map[string]any
	if code := post(t, rp, d.Addr+"/rp/v1/challenge", map[string]string{"orderRef": o.OrderRef, "type": "sms"}, &sent); code != 200 {
		t.Fatalf("sms challenge: %d %v", code, sent)
	}
	out := mustSegl(t, "sms", "list", "--user", "lis")
	if !strings.Contains(out, "+45 •••• ••78") || !strings.Contains(out, "outbox") || !strings.Contains(out, o.OrderRef) {
		t.Fatalf("sms list: %s", out)
	}
	box, _ := os.ReadFile(d.Dev.Outbox())
	code := regexp.MustCompile(`Code ([0-9]{6})`).FindStringSubmatch(string(box))
	if code == nil || strings.Contains(out, code[1]) {
		t.Fatalf("sms list shows the code, or there is none: %s", out)
	}
	if out := mustSegl(t, "plugins", "list"); !regexp.MustCompile(`(?m)^outbox\s+sms\s+[0-9a-f]{16}…\s+running\s+[0-9]+\s+0`).MatchString(out) {
		t.Fatalf("plugins list: %s", out)
	}
	mustSegl(t, "users", "phone", "delete", "--id", "lis")
	if out := mustSegl(t, "users", "show", "--id", "lis"); strings.Contains(out, "phone") {
		t.Fatalf("after delete: %s", out)
	}
}
