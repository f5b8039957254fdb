package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/config"
)

// segld dev --database URL makes the development setup on an existing
// PostgreSQL: its config names the URL, and check-config takes it
// without connecting. A URL with a password is refused before anything
// is made.
func TestDevDatabase(t *testing.T) {
	t.Setenv("SOFTHSM2_CONF", "") // Setup sets it for the process; this restores it
	// A Unix socket's directory, and a query with & in it: written in
	// the YAML as it is given.
	const pgURL = "postgres://segl@/segl?host=/run/postgresql&sslmode=disable"
	dir := t.TempDir()
	e, err := devenv.Setup(dir, devenv.Options{Listen: "127.0.0.1:0", Database: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	if e.Database != pgURL || !e.Created {
		t.Fatalf("Env.Database %q, created %v", e.Database, e.Created)
	}
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ndatabase: "+pgURL+"   #") {
		t.Fatalf("the config does not say database: %s:\n%s", pgURL, b)
	}
	cfg, err := config.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseKind() != config.DatabasePostgres || cfg.SQLitePath() != "" {
		t.Fatalf("the config's database: %s %+v", cfg.DatabaseKind(), cfg.Database)
	}
	if u, err := cfg.PostgresURL(); err != nil || u != pgURL {
		t.Fatalf("PostgresURL: %q %v", u, err)
	}
	if out, errOut, code := segld(t, "check-config", "--config", e.Config); code != 0 || out != e.Config+": ok\n" {
		t.Fatalf("check-config: %d %q %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "segl.db")); err == nil {
		t.Fatal("a SQLite file was made beside a PostgreSQL config")
	}

	// Reused as it is with the same URL; another is refused, and the
	// config is left as it was.
	again, err := devenv.Setup(dir, devenv.Options{Listen: "127.0.0.1:0", Database: pgURL})
	if err != nil || again.Created {
		t.Fatalf("again: %v, created %v", err, again != nil && again.Created)
	}
	if _, err := devenv.Setup(dir, devenv.Options{Listen: "127.0.0.1:0", Database: "postgres://db.example/other"}); err == nil ||
		!strings.Contains(err.Error(), "--database: the setup in "+dir+" is on "+pgURL+", and a setup is not changed") {
		t.Fatalf("another URL for the same setup: %v", err)
	}
	if after, _ := os.ReadFile(e.Config); string(after) != string(b) {
		t.Fatal("the config was changed")
	}
	// A SQLite setup is not turned into a PostgreSQL one either.
	sqliteDir := t.TempDir()
	if _, err := devenv.Setup(sqliteDir, devenv.Options{Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.Setup(sqliteDir, devenv.Options{Listen: "127.0.0.1:0", Database: pgURL}); err == nil ||
		!strings.Contains(err.Error(), "is on the SQLite file segl.db") {
		t.Fatalf("a SQLite setup given --database: %v", err)
	}

	// The password by file or variable, once the config is edited so:
	// check-config says, by key, when it cannot be had.
	block := "database:\n  url: " + pgURL + "\n  password-file: db-password\n#"
	withFile := edit(t, e, "file.yaml", "database: "+pgURL+"   #", block)
	if _, errOut, code := segld(t, "check-config", "--config", withFile); code != 1 || errOut != "database.password-file: open db-password: no such file\n" {
		t.Fatalf("no password file: %d %q", code, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "db-password"), []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := segld(t, "check-config", "--config", withFile); code != 0 || out != withFile+": ok\n" {
		t.Fatalf("with the password file: %d %q %s", code, out, errOut)
	}
	withEnv := edit(t, e, "env.yaml", "database: "+pgURL+"   #", strings.Replace(block, "password-file: db-password", "password-env: SEGL_TEST_DB_PASSWORD", 1))
	if _, errOut, code := segld(t, "check-config", "--config", withEnv); code != 1 ||
		errOut != "database.password-env: SEGL_TEST_DB_PASSWORD is not set in segld's environment\n" {
		t.Fatalf("no password variable: %d %q", code, errOut)
	}
	t.Setenv("SEGL_TEST_DB_PASSWORD", "hunter2")
	if out, errOut, code := segld(t, "check-config", "--config", withEnv); code != 0 || out != withEnv+": ok\n" {
		t.Fatalf("with the password variable: %d %q %s", code, out, errOut)
	}
	inURL := edit(t, e, "inurl.yaml", "database: "+pgURL, "database: postgres://segl:hunter2@/segl?host=/run/postgresql")
	if _, errOut, code := segld(t, "check-config", "--config", inURL); code != 1 || !strings.HasPrefix(errOut, "database: the URL holds a password;") ||
		strings.Contains(errOut, "hunter2") {
		t.Fatalf("a password in the URL: %d %q", code, errOut)
	}

	// Refused as typed, before anything is made.
	for _, tc := range []struct{ url, want string }{
		{"postgres://segl:hunter2@db.example/segl", "segld: --database: the URL holds a password, and the config never does: connect by a Unix socket"},
		{"postgres://segl@db.example/segl?password=hunter2", "segld: --database: the URL holds a password"},
		{"mysql://segl@db.example/segl", `segld: --database: the scheme "mysql" is not PostgreSQL's`},
		{"postgres://db.example", "segld: --database: names no database"},
		{"segl.db", `segld: --database: the scheme "" is not PostgreSQL's`},
	} {
		fresh := filepath.Join(t.TempDir(), "dev")
		_, errOut, code := segld(t, "dev", "--dir", fresh, "--listen", "127.0.0.1:0", "--database", tc.url)
		if code != 1 || !strings.HasPrefix(errOut, tc.want) || strings.Contains(errOut, "hunter2") {
			t.Errorf("--database %s: %d %q, want %q", tc.url, code, errOut, tc.want)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("--database %s: %s was made", tc.url, fresh)
		}
	}
}
