package daemon_test

import (
	"os"
	"testing"

	"github.com/segl/segl/signer/daemon/daemontest"
)

// With SEGL_TEST_STORE=postgres these tests run on PostgreSQL (make test
// runs them so too).
func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }
