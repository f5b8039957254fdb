package config_test

import (
	"errors"
	"net/url"
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
		"bad firmware":    {good + "piv: {min-ecdsa-firmware: '5.7'}\n", `piv.min-ecdsa-firmware: "5.7"; a firmware version, such as 5.7.0`},
		"piv misspelt":    {good + "piv: {attestation-root: r.pem}\n", "piv.attestation-root: unknown key (did you mean piv.attestation-roots?)"},
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

// withDatabase is good with its database line replaced.
func withDatabase(db string) string {
	return strings.Replace(good, "database: segl.db\n", db, 1)
}

// database is a SQLite file's path or a PostgreSQL URL, as a string or a
// block whose password comes from a file or the environment.
func TestDatabase(t *testing.T) {
	const u = "postgres://segl@db.bank.example:5432/segl?sslmode=verify-full"
	for name, tc := range map[string]struct {
		yaml, kind, path, url, file, env string
	}{
		"sqlite file":      {yaml: "database: segl.db\n", kind: config.DatabaseSQLite, path: "segl.db"},
		"sqlite absolute":  {yaml: "database: /var/lib/segl/segl.db\n", kind: config.DatabaseSQLite, path: "/var/lib/segl/segl.db"},
		"postgres string":  {yaml: "database: " + u + "\n", kind: config.DatabasePostgres, url: u},
		"postgresql":       {yaml: "database: postgresql://db/segl\n", kind: config.DatabasePostgres, url: "postgresql://db/segl"},
		"socket":           {yaml: "database: postgres:///segl?host=/run/postgresql\n", kind: config.DatabasePostgres, url: "postgres:///segl?host=/run/postgresql"},
		"dbname in query":  {yaml: "database: postgres://db?dbname=segl\n", kind: config.DatabasePostgres, url: "postgres://db?dbname=segl"},
		"block, url alone": {yaml: "database: {url: '" + u + "'}\n", kind: config.DatabasePostgres, url: u},
		"block with file": {yaml: "database:\n  url: " + u + "\n  password-file: /etc/segl/db-password\n",
			kind: config.DatabasePostgres, url: u, file: "/etc/segl/db-password"},
		"block with env": {yaml: "database:\n  url: " + u + "\n  password-env: SEGL_DB_PASSWORD\n",
			kind: config.DatabasePostgres, url: u, env: "SEGL_DB_PASSWORD"},
	} {
		c, err := config.Parse(strings.NewReader(withDatabase(tc.yaml)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		d := c.Database
		if c.DatabaseKind() != tc.kind || d.Path != tc.path || d.URL != tc.url || d.PasswordFile != tc.file || d.PasswordEnv != tc.env {
			t.Errorf("%s: kind %s, %+v", name, c.DatabaseKind(), d)
		}
		if (c.SQLitePath() != "") != (tc.kind == config.DatabaseSQLite) {
			t.Errorf("%s: SQLitePath %q", name, c.SQLitePath())
		}
		if _, err := c.PostgresURL(); (err == nil) != (tc.kind == config.DatabasePostgres && tc.file == "" && tc.env == "") {
			t.Errorf("%s: PostgresURL: %v", name, err)
		}
	}

	const secret = "hunter2"
	for name, tc := range map[string]struct{ yaml, want string }{
		"password in the string": {"database: postgres://segl:" + secret + "@db/segl\n",
			"database: the URL holds a password; a password is not written in the config: put it in a file only segld's user reads and name it in database.password-file, " +
				"or name the environment variable that holds it in database.password-env"},
		"password in the block": {"database:\n  url: postgres://segl:" + secret + "@db/segl\n  password-file: pw\n", "database.url: the URL holds a password;"},
		"empty password":        {"database: postgres://segl:@db/segl\n", "database: the URL holds a password;"},
		"password= in query":    {"database: postgres://segl@db/segl?password=" + secret + "\n", "database: the URL holds a password;"},
		"sslpassword= in query": {"database: postgres://segl@db/segl?sslpassword=" + secret + "\n", "database: the URL holds a password;"},
		"file and env": {"database:\n  url: postgres://db/segl\n  password-file: pw\n  password-env: PW\n",
			"database.password-file: and database.password-env are both given: the password comes from one of them, or neither"},
		"bad env name":     {"database:\n  url: postgres://db/segl\n  password-env: 1PW\n", `database.password-env: "1PW" is not an environment variable's name`},
		"bad scheme":       {"database: mysql://db/segl\n", `database: the scheme "mysql" is not PostgreSQL's`},
		"bad scheme block": {"database: {url: 'mysql://db/segl'}\n", `database.url: the scheme "mysql" is not PostgreSQL's`},
		"no database name": {"database: postgres://db:5432\n", "database: names no database: postgres://USER@HOST:PORT/DBNAME"},
		"no database, /":   {"database: postgres://db/\n", "database: names no database"},
		"no host":          {"database: postgres:///segl\n", "database: names no host: postgres://USER@HOST:PORT/DBNAME, or host=/run/postgresql"},
		"no //":            {"database: postgres:segl\n", "database: is not postgres://HOST/DBNAME"},
		"bad port":         {"database: postgres://db:99999/segl\n", `database: the port "99999"; between 1 and 65535`},
		"bad sslmode":      {"database: postgres://db/segl?sslmode=verify\n", `database: sslmode "verify"; one of disable, allow, prefer, require, verify-ca, verify-full`},
		"not a URL":        {"database: 'postgres://db/segl?%zz'\n", "database: its query does not parse"},
		"sqlite in block":  {"database: {url: segl.db}\n", "database.url: is not a PostgreSQL URL (postgres://…); a SQLite file is given as database: FILE, not in a block"},
		"block, no url":    {"database: {password-file: pw}\n", "database.url: is required"},
		"empty block":      {"database: {}\n", "database.url: is required"},
		"empty string":     {"database: ''\n", "database: is required"},
		"left out":         {"", "database: is required"},
		"a list":           {"database: [segl.db]\n", "database: is a list, want a SQLite file's path, a PostgreSQL URL or a mapping of keys"},
		"misspelt":         {"database: {uri: postgres://db/segl}\n", "database.uri: unknown key (did you mean database.url?)"},
		"a password key":   {"database: {url: 'postgres://db/segl', password: " + secret + "}\n", "database.password: unknown key"},
	} {
		_, err := config.Parse(strings.NewReader(withDatabase(tc.yaml)))
		if err == nil || !slices.ContainsFunc(lines(err), func(l string) bool { return strings.HasPrefix(l, tc.want) }) {
			t.Errorf("%s: %v, want a line starting %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

// PostgresURL puts the password from its file or variable in the URL,
// read at each call; CheckFiles says when it cannot be read, by key.
func TestPostgresURL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "segl.yaml")
	load := func(db string) *config.Config {
		t.Helper()
		if err := os.WriteFile(path, []byte(withDatabase(db)), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	checkFiles := func(c *config.Config) []string {
		var out []string
		for _, l := range lines(c.CheckFiles()) {
			if strings.HasPrefix(l, "database") {
				out = append(out, l)
			}
		}
		return out
	}
	const u = "postgres://segl@db.bank.example:5432/segl?sslmode=verify-full"
	// A relative file is the config directory's.
	c := load("database:\n  url: " + u + "\n  password-file: db-password\n")
	if _, err := c.PostgresURL(); err == nil || err.Error() != "database.password-file: open db-password: no such file" {
		t.Fatalf("no file: %v", err)
	}
	if got := checkFiles(c); !slices.Equal(got, []string{"database.password-file: open db-password: no such file"}) {
		t.Fatalf("CheckFiles, no file: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "db-password"), []byte("\n"), 0o600)
	if got := checkFiles(c); !slices.Equal(got, []string{"database.password-file: db-password is empty"}) {
		t.Fatalf("CheckFiles, empty file: %q", got)
	}
	const pw = "p@ss:w/rd #1?"
	os.WriteFile(filepath.Join(dir, "db-password"), []byte(pw+"\n"), 0o600)
	if got := checkFiles(c); got != nil {
		t.Fatalf("CheckFiles: %q", got)
	}
	got, err := c.PostgresURL()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := parsed.User.Password(); p != pw || parsed.User.Username() != "segl" || parsed.Host != "db.bank.example:5432" || parsed.Path != "/segl" ||
		parsed.RawQuery != "sslmode=verify-full" {
		t.Fatalf("PostgresURL %s", got)
	}
	// Read at each call: a rotated password is the one given.
	os.WriteFile(filepath.Join(dir, "db-password"), []byte("rotated"), 0o600)
	if got, _ := c.PostgresURL(); !strings.Contains(got, ":rotated@") {
		t.Fatalf("after rotation: %s", got)
	}
	if c.Database.URL != u {
		t.Fatalf("PostgresURL changed the config: %s", c.Database.URL)
	}

	// From the environment, and a socket without a host.
	c = load("database:\n  url: postgres:///segl?host=/run/postgresql\n  password-env: SEGL_TEST_DB_PASSWORD\n")
	if _, err := c.PostgresURL(); err == nil || err.Error() != "database.password-env: SEGL_TEST_DB_PASSWORD is not set in segld's environment" {
		t.Fatalf("unset: %v", err)
	}
	if got := checkFiles(c); !slices.Equal(got, []string{"database.password-env: SEGL_TEST_DB_PASSWORD is not set in segld's environment"}) {
		t.Fatalf("CheckFiles, unset: %q", got)
	}
	t.Setenv("SEGL_TEST_DB_PASSWORD", "")
	if got := checkFiles(c); !slices.Equal(got, []string{"database.password-env: SEGL_TEST_DB_PASSWORD is empty"}) {
		t.Fatalf("CheckFiles, empty: %q", got)
	}
	t.Setenv("SEGL_TEST_DB_PASSWORD", "s3cret")
	if got, err := c.PostgresURL(); err != nil || got != "postgres://:s3cret@/segl?host=/run/postgresql" {
		t.Fatalf("from the environment: %q %v", got, err)
	}

	// No password: the URL as it is; and no directory check for it.
	c = load("database: " + u + "\n")
	if got, err := c.PostgresURL(); err != nil || got != u {
		t.Fatalf("no password: %q %v", got, err)
	}
	if got := checkFiles(c); got != nil {
		t.Fatalf("CheckFiles: %q", got)
	}
	if c.SQLitePath() != "" {
		t.Fatalf("SQLitePath of PostgreSQL: %q", c.SQLitePath())
	}

	// SQLite: resolved against the config's directory; no URL.
	c = load("database: data/segl.db\n")
	if c.SQLitePath() != filepath.Join(dir, "data", "segl.db") {
		t.Fatalf("SQLitePath %q", c.SQLitePath())
	}
	if _, err := c.PostgresURL(); err == nil || err.Error() != "database: is a SQLite file, not a PostgreSQL URL" {
		t.Fatalf("PostgresURL of SQLite: %v", err)
	}
	if got := checkFiles(c); !slices.Equal(got, []string{"database: the directory of data/segl.db does not exist"}) {
		t.Fatalf("CheckFiles, SQLite: %q", got)
	}
}
