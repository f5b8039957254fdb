// Package softhsmtest gives each test a SoftHSM token of its own, in its
// temporary directory, with SOFTHSM2_CONF pointed at it for the test's
// length (t.Setenv, which also keeps such tests from running in
// parallel). Test code only: production binaries must not link it.
package softhsmtest

import (
	"crypto/rand"
	"encoding/base32"
	"os"
	"strings"
	"testing"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm"
)

// New makes an initialised token in tb.TempDir() and points SOFTHSM2_CONF
// at it for the rest of the test.
func New(tb testing.TB) *softhsm.Token {
	tb.Helper()
	b := make([]byte, 5)
	rand.Read(b)
	tok, err := softhsm.Create(tempDir(tb), "segl-test-"+strings.ToLower(base32.StdEncoding.EncodeToString(b)))
	if err != nil {
		tb.Fatalf("softhsm: %v", err)
	}
	tb.Setenv("SOFTHSM2_CONF", tok.Conf)
	if err := tok.Init(); err != nil {
		tb.Fatalf("softhsm: %v", err)
	}
	return tok
}

// tempDir is tb.TempDir(), unless the test's name put a '#' in it
// (subtests with the same name are numbered "name#01"), which softhsm2.conf
// cannot hold; then a directory of its own that is removed the same way.
func tempDir(tb testing.TB) string {
	dir := tb.TempDir()
	if !strings.Contains(dir, "#") {
		return dir
	}
	dir, err := os.MkdirTemp("", "segl-softhsm-")
	if err != nil {
		tb.Fatalf("softhsm: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Open opens a Keystore on a new token and closes it when the test ends.
func Open(tb testing.TB) (*softhsm.Token, *hsm.Keystore) {
	tb.Helper()
	tok := New(tb)
	ks, err := hsm.Open(tok.Config())
	if err != nil {
		tb.Fatalf("softhsm: open keystore: %v", err)
	}
	tb.Cleanup(func() { ks.Close() })
	return tok, ks
}
