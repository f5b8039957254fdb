package daemon_test

import (
	"net/http"
	"testing"

	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/store/postgres/pgtest"
)

// The database gone (its server stopped, as at a failover): requests are
// 503 maintenance with Retry-After, not internal errors, and /readyz
// fails, so a load balancer sends traffic elsewhere.
func TestDatabaseDownIs503(t *testing.T) {
	url, stop, err := pgtest.StartDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop() // again: it does nothing once stopped
	d := daemontest.StartWith(t, daemontest.Options{Database: url})
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr,
		rp:  clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey),
		off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	e.createUser("karen", "hemmeligt1")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var out apiError
	if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"}, &out); code != 503 ||
		out.ErrorCode != "maintenance" || e.lastHeader.Get("Retry-After") == "" {
		t.Fatalf("a start with the database down: %d %+v, Retry-After %q", code, out, e.lastHeader.Get("Retry-After"))
	}
	resp, err := e.off.Get(e.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d", resp.StatusCode)
	}
}
