// Package pgtest starts throwaway PostgreSQL clusters for tests, with
// scripts/postgres.sh: initdb in a directory of its own, the server on a Unix
// socket in it and on no TCP port, run as an unprivileged user when the test
// runs as root, and everything removed when the test ends. No PostgreSQL
// service on the machine is used or assumed; scripts/deps.sh installs the
// binaries.
//
// A cluster takes about a second to start, a database a few milliseconds to
// create, so a package starts one cluster in TestMain and gives each test a
// database of its own:
//
//	var pgURL string
//
//	func TestMain(m *testing.M) {
//		dir, err := os.MkdirTemp("", "pg")
//		...
//		url, stop, err := pgtest.StartDir(dir)
//		...
//		pgURL = url
//		code := m.Run()
//		if err := stop(); err != nil { ... }
//		os.RemoveAll(dir)
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		db := pgtest.NewDatabase(t, pgURL)
//		...
//	}
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// scriptTimeout bounds one run of scripts/postgres.sh, which itself gives
// pg_ctl a minute to start or stop the server.
const scriptTimeout = 3 * time.Minute

// Start starts a cluster for t in t.TempDir() and stops it when t ends. It
// returns the URL of its database `segl`, for pgx, whose superuser `segl`
// the URL names.
func Start(t testing.TB) string {
	t.Helper()
	url, stop, err := StartDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return url
}

// StartDir starts a cluster recorded in dir, which it makes if need be, and
// returns the URL of its database `segl` and a function that stops the
// cluster and removes it; calling stop again does nothing. dir is left to
// the caller, holding the server's log (postgres.log) after stop.
func StartDir(dir string) (url string, stop func() error, err error) {
	return startDir(dir)
}

// startDir is StartDir with the script's options, such as --port N.
func startDir(dir string, opts ...string) (string, func() error, error) {
	script, err := scriptPath()
	if err != nil {
		return "", nil, err
	}
	out, err := run(script, append(append([]string{"start"}, opts...), dir)...)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: starting PostgreSQL in %s: %w", dir, err)
	}
	u := strings.TrimSpace(out)
	if !strings.HasPrefix(u, "postgres://") || strings.Contains(u, "\n") {
		_, _ = run(script, "stop", dir)
		return "", nil, fmt.Errorf("pgtest: %s start printed %q, not one postgres:// URL", script, out)
	}
	stop := func() error {
		if _, err := run(script, "stop", dir); err != nil {
			return fmt.Errorf("pgtest: stopping PostgreSQL in %s: %w", dir, err)
		}
		return nil
	}
	return u, stop, nil
}

// run runs the script with args and returns its standard output; an error
// carries its standard error, where it says what failed.
func run(script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", fmt.Errorf("%w:\n%s", err, msg)
	}
	return stdout.String(), nil
}

// scriptPath finds scripts/postgres.sh in the module root, the nearest
// directory above the working directory (the package's, under go test) that
// holds go.mod.
func scriptPath() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(d, "scripts", "postgres.sh")
			if _, err := os.Stat(s); err != nil {
				return "", fmt.Errorf("pgtest: the module root %s has no scripts/postgres.sh: %w", d, err)
			}
			return s, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("pgtest: no go.mod above %s, so no scripts/postgres.sh: run the tests inside the Segl module", wd)
		}
	}
}

// NewDatabase creates an empty database on the cluster at clusterURL (as
// Start or StartDir return it), drops it when t ends, and returns its URL.
// Its name starts with the test's name, for the server log.
func NewDatabase(t testing.TB, clusterURL string) string {
	t.Helper()
	u, err := url.Parse(clusterURL)
	if err != nil {
		t.Fatalf("pgtest: cluster URL: %v", err)
	}
	name := dbName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec1(ctx, clusterURL, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends the connections a test left open.
		if err := exec1(ctx, clusterURL, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// exec1 runs one statement on a connection of its own.
func exec1(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}

// dbName makes a database name from a test's name: lower-case letters, digits
// and underscores, a random suffix, and at most 63 bytes, PostgreSQL's limit.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	prefix := b.String()
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	return "t_" + prefix + "_" + hex.EncodeToString(randBytes(6))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
