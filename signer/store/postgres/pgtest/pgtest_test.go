package pgtest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestStartStop starts a cluster, uses it, and checks that stop leaves
// nothing behind: no server, no socket, no directory.
func TestStartStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	begin := time.Now()
	u, stop, err := StartDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v: %s", time.Since(begin).Round(time.Millisecond), u)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})

	cfg, err := pgconn.ParseConfig(u)
	if err != nil {
		t.Fatalf("pgx cannot parse %q: %v", u, err)
	}
	rundir := cfg.Host
	if !strings.HasPrefix(rundir, "/tmp/segl-pg.") || cfg.Port != 5432 || cfg.User != "segl" || cfg.Database != "segl" || cfg.TLSConfig != nil {
		t.Fatalf("ParseConfig(%q): host %q port %d user %q database %q TLS %v; want the socket directory, 5432, segl, segl, no TLS",
			u, cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.TLSConfig != nil)
	}
	socket := filepath.Join(rundir, ".s.PGSQL.5432")
	if _, err := os.Stat(socket); err != nil {
		t.Fatal(err)
	}
	pidText, err := os.ReadFile(filepath.Join(rundir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidText), "\n", 2)[0])
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}

	ctx := context.Background()
	conn := connect(t, u)
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "" {
		t.Errorf("listen_addresses = %q, %v; want '' (no TCP)", listen, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY, v bigint NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES ($1, $2), ($3, $4)", "a", 1, "b", 2); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := conn.QueryRow(ctx, "SELECT sum(v) FROM kv").Scan(&sum); err != nil || sum != 3 {
		t.Fatalf("sum = %d, %v; want 3", sum, err)
	}
	conn.Close(ctx)

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, p := range []string{socket, rundir, filepath.Join(dir, "postgres.rundir")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after stop, %s: %v; want it gone", p, err)
		}
	}
	if !exited(pid, 5*time.Second) {
		t.Errorf("after stop, the postmaster (pid %d) still runs", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Errorf("the server log was not kept: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v; want nothing to do", err)
	}
}

// exited reports whether process pid has ended (or is a zombie nobody has
// reaped yet: the postmaster's parent is init once pg_ctl has exited) within
// d.
func exited(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// The state follows the command, which is in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// TestNewDatabase gives two tests a database each on one cluster: each sees
// only its own tables, and its database is gone when it ends.
func TestNewDatabase(t *testing.T) {
	t.Parallel()
	cluster := Start(t)
	ctx := context.Background()
	var names []string
	var open []*pgx.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close(ctx)
		}
	})
	for _, sub := range []string{"one", "two"} {
		t.Run(sub, func(t *testing.T) {
			u := NewDatabase(t, cluster)
			// Left open past the test on purpose: the drop must end it.
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, conn)
			var name string
			if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'mine'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("a new database has %d tables 'mine', %v; want none", n, err)
			}
			if _, err := conn.Exec(ctx, "CREATE TABLE mine (x int)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(names) != 2 || names[0] == names[1] || !strings.HasPrefix(names[0], "t_testnewdatabase_one_") {
		t.Fatalf("databases %q; want two, named after their tests", names)
	}
	conn := connect(t, cluster)
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d of the tests' databases left after they ended (%v); want none", left, err)
	}
}

// TestPort starts a cluster on a loopback TCP port too, where the password
// is required.
func TestPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u, stop, err := startDir(t.TempDir(), "--port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})

	conn := connect(t, u)
	var got int
	if err := conn.QueryRow(context.Background(), "SELECT inet_server_port()").Scan(&got); err != nil || got != port {
		t.Errorf("inet_server_port() = %d, %v; want %d", got, err, port)
	}

	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword("segl", "not-the-password")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, parsed.String())
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		if c != nil {
			c.Close(ctx)
		}
		t.Errorf("connect with a wrong password: %v; want invalid_password (28P01)", err)
	}
}

func TestDBName(t *testing.T) {
	n := dbName("TestX/a b-Ünï" + strings.Repeat("x", 100))
	if len(n) > 63 || !strings.HasPrefix(n, "t_testx_a_b__n_") {
		t.Errorf("dbName = %q (%d bytes)", n, len(n))
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Errorf("dbName = %q has %q", n, r)
		}
	}
}
