package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module's directory.
const root = "../.."

// The binaries link no test code: no package of theirs imports package
// testing, and none is a test-only helper (softhsmtest, daemontest). And
// no package of the daemon under signer/ depends on softhsm, the maker of
// development tokens.
func TestBinariesLinkNoTestCode(t *testing.T) {
	// Importers of testing that the binaries cannot do without, and why.
	allowed := map[string]string{
		"github.com/hashicorp/go-plugin": "the plugin protocol itself: its TestPluginGRPCConn helpers live in package plugin",
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./cmd/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		p := f[0]
		if strings.HasSuffix(p, "/softhsmtest") || strings.HasSuffix(p, "/daemontest") || strings.HasPrefix(p, "testing/") {
			t.Errorf("a binary under cmd/ links %s", p)
		}
		for _, imp := range f[1:] {
			if imp == "testing" {
				if _, ok := allowed[p]; !ok {
					t.Errorf("%s, linked into a binary under cmd/, imports testing", p)
				}
			}
		}
	}
	cmd = exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./signer/...")
	cmd.Dir = root
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if strings.HasSuffix(f[0], "/daemontest") {
			continue // a test helper: it starts segld dev
		}
		for _, d := range f[1:] {
			if d == "github.com/segl/segl/softhsm" || strings.HasPrefix(d, "github.com/segl/segl/softhsm/") {
				t.Errorf("%s depends on %s", f[0], d)
			}
		}
	}
}

// Nothing tracked is a build output (an ELF executable) or a large file,
// outside the data directories that hold published test data.
func TestNoBinariesTracked(t *testing.T) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	// Exceptions, each with its reason; none today.
	allowed := map[string]string{}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if _, ok := allowed[f]; ok {
			continue
		}
		path := filepath.Join(root, f)
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		head := make([]byte, 4)
		if fh, err := os.Open(path); err == nil {
			fh.Read(head)
			fh.Close()
		}
		if bytes.Equal(head, []byte("\x7fELF")) {
			t.Errorf("%s is an ELF binary: build outputs go to bin/", f)
		}
		inData := strings.Contains("/"+f, "/testdata/") || strings.HasPrefix(f, "testvectors/")
		if st.Size() > 1<<20 && !inData {
			t.Errorf("%s is %d bytes, over 1 MiB outside testdata/ and testvectors/", f, st.Size())
		}
	}
}
