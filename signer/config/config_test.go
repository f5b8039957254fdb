package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/segl/segl/signer/config"
)

const good = `listen: 127.0.0.1:8443
database: segl.db
hsm: {token: segl}
tls: {certificate: s.pem, key: s.key, client-ca: ca.pem}
issuer: {name: segl, certificate: issuer.pem}
`

func lines(err error) []string {
	var es config.Errors
	if !errors.As(err, &es) {
		return nil
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

func TestParse(t *testing.T) {
	c, err := config.Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Orders.MaxFailures != 5 || c.Keys.KEK != "kek" || c.HSM.Module == "" || c.OTP.LookAhead != 10 || c.Log.Format != "json" {
		t.Fatalf("defaults: %+v", c)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":       {good + "extra: 1\n", "extra: unknown key"},
		"misspelt key":      {good + "orders: {max-failure: 3}\n", "orders.max-failure: unknown key (did you mean orders.max-failures?)"},
		"key in the wrong":  {good + "expiry: 3m\n", "expiry: unknown key (did you mean orders.expiry?)"},
		"a PIN":             {strings.Replace(good, "token: segl", "token: segl, pin: 1234", 1), "hsm.pin: unknown key"},
		"missing listen":    {strings.Replace(good, "listen: 127.0.0.1:8443\n", "", 1), "listen: is required"},
		"bad listen":        {strings.Replace(good, "127.0.0.1:8443", "8443", 1), `listen: "8443" is not host:port`},
		"missing token":     {strings.Replace(good, "hsm: {token: segl}", "hsm: {}", 1), "hsm.token: is required"},
		"missing CA":        {strings.Replace(good, ", client-ca: ca.pem", "", 1), "tls.client-ca: is required"},
		"bad duration":      {good + "orders: {expiry: 3 minutes}\n", `orders.expiry: "3 minutes" is not a duration like 3m or 90s`},
		"short expiry":      {good + "orders: {expiry: 1s}\n", "orders.expiry: 1s; between 10s and 1h0m0s"},
		"no block":          {good + "orders: {block: 0s}\n", "orders.block: 0s"},
		"no checkpoints":    {good + "audit: {checkpoint-every: 0}\n", "audit.checkpoint-every: 0; between 1"},
		"weak argon2id":     {good + "passwords: {memory-mib: 8, passes: 1}\n", "passwords.memory-mib: 8; between 19 and 4096"},
		"not a number":      {good + "hsm2: 1\napi: {max-body: lots}\n", `api.max-body: "lots" is not a whole number`},
		"a list for a map":  {good + "otp: [1, 2]\n", "otp: is a list, want a mapping of keys"},
		"given twice":       {good + "database: other.db\n", "database: is given twice (lines 2 and 6)"},
		"officer no cert":   {good + "officers: [{id: o, name: O}]\n", "officers[0].certificate: is required"},
		"officer twice":     {good + "officers: [{id: o, name: O, certificate: a}, {id: o, name: P, certificate: b}]\n", `officers[1].id: "o" is officers[0]'s too`},
		"officer misspelt":  {good + "officers: [{id: o, name: O, certficate: a}]\n", "officers[0].certficate: unknown key (did you mean officers[0].certificate?)"},
		"bad log":           {good + "log: {format: xml}\n", `log.format: "xml"; json or text`},
		"two documents":     {good + "---\nlisten: x\n", "more than one"},
		"empty":             {"", "is empty"},
		"ops on the same":   {good + "ops-listen: 127.0.0.1:8443\n", "ops-listen:"},
		"unwrap cache -1":   {strings.Replace(good, "hsm: {token: segl}", "hsm: {token: segl, unwrap-cache: -1}", 1), "hsm.unwrap-cache: -1; between 0 and"},
		"no interval":       {good + "audit: {checkpoint-interval: 0s}\n", "audit.checkpoint-interval: 0s"},
		"resync below look": {good + "otp: {look-ahead: 50, resync-window: 20}\n", "otp.resync-window: 20; between 50 and 1000"},
		"inline password": {good + "plugins: [{name: k, contract: sms, command: /k, sha256: " + strings.Repeat("a", 64) + ", config: {password: hunter2}}]\n",
			"plugins[0].config.password: a secret is not written in the config: put it in a file only segld's user reads and name it in password-file"},
		"unknown adapter": {good + "sms: {adapters: [kannel]}\n", `sms.adapters[0]: "kannel" is not a plugin's name`},
	} {
		_, err := config.Parse(strings.NewReader(tc.yaml))
		if err == nil || !slices.ContainsFunc(lines(err), func(l string) bool { return strings.Contains(l, tc.want) }) {
			t.Errorf("%s: %v, want a line with %q", name, err, tc.want)
		}
	}
}

// Every problem at once, one a line, each naming its key.
func TestAllErrorsAtOnce(t *testing.T) {
	_, err := config.Parse(strings.NewReader(`listen: 8443
hsm: {}
orders: {expiry: soon, max-failure: 3, block: 0s}
audit: {checkpoint-every: 0}
`))
	got := lines(err)
	for _, want := range []string{"orders.expiry:", "orders.max-failure: unknown key"} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no line %q in %q", want, got)
		}
	}
	// The kinds are checked first; with them right, every range at once.
	_, err = config.Parse(strings.NewReader(`listen: 8443
hsm: {}
orders: {expiry: 1s, block: 1s}
audit: {checkpoint-every: -5}
`))
	got = lines(err)
	for _, want := range []string{"listen:", "database:", "hsm.token:", "tls.certificate:", "tls.key:", "tls.client-ca:", "issuer.name:", "issuer.certificate:",
		"orders.expiry:", "orders.block:", "audit.checkpoint-every:"} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no line %q in %q", want, got)
		}
	}
	if n := len(got); n != 11 {
		t.Errorf("%d lines, want 11:\n%s", n, strings.Join(got, "\n"))
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "segl.yaml")
	os.WriteFile(path, []byte(good+"hsm: {token: segl, module: /nonexistent/lib.so, pin-file: pin}\nofficers: [{id: o, name: O, certificate: off.pem}]\n"), 0o600)
	_, err := config.Load(path)
	if err == nil {
		t.Fatal("hsm given twice was accepted")
	}
	os.WriteFile(path, []byte(strings.Replace(good, "hsm: {token: segl}", "hsm: {token: segl, module: /nonexistent/lib.so, pin-file: pin}", 1)+
		"officers: [{id: o, name: O, certificate: off.pem}]\n"), 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := lines(c.CheckFiles())
	for _, want := range []string{
		"tls.certificate: open s.pem: no such file",
		"tls.client-ca: open ca.pem: no such file",
		"issuer.certificate: open issuer.pem: no such file",
		"officers[0].certificate: open off.pem: no such file",
		"hsm.pin-file: open pin: no such file",
		"hsm.module: open /nonexistent/lib.so: no such file",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no line %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	// Files that exist but are not what they should be.
	os.WriteFile(filepath.Join(dir, "s.pem"), []byte("not a certificate"), 0o600)
	os.WriteFile(filepath.Join(dir, "s.key"), []byte("not a key"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "pin"), []byte("\n"), 0o600)
	got = lines(c.CheckFiles())
	for _, want := range []string{`^tls\.certificate: with tls\.key: `, `^tls\.client-ca: ca\.pem: `, `^hsm\.pin-file: pin is empty$`} {
		re := regexp.MustCompile(want)
		if !slices.ContainsFunc(got, re.MatchString) {
			t.Errorf("no line matching %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, l := range got {
		if strings.Contains(l, "not a key") {
			t.Errorf("a line shows a file's content: %s", l)
		}
	}
}

// docs/config.md documents every key the config has, and no other.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	keys := config.KeyPaths()
	for _, k := range keys {
		if !slices.Contains(documented, k) {
			t.Errorf("docs/config.md does not document %s", k)
		}
	}
	for _, d := range documented {
		if !slices.Contains(keys, d) {
			t.Errorf("docs/config.md documents %s, which is not a key", d)
		}
	}
	if !slices.Equal(documented, keys) {
		t.Errorf("docs/config.md's keys are not in the config's order:\n%v\n%v", documented, keys)
	}
}
