package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/urfave/cli/v2"

	"github.com/segl/segl/softhsm"
)

// The CLI is tested as an officer types it: testdata/script/*.txtar are
// scripts of segl commands and their expected output, each against a fresh
// SoftHSM token whose PINs are in files, checked with openssl and OpenSC's
// pkcs11-tool as independent clients.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"segl": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	// segld beside segl, for the scripts that show both (production.txtar).
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin, "../segld").CombinedOutput(); err != nil {
		t.Fatalf("go build segld: %v\n%s", err, out)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			// Files only: each script initialises its token with
			// `segl hsm init-token`, in its own process.
			tok, err := softhsm.Create(filepath.Join(env.WorkDir, ".hsm"), "segl-cli")
			if err != nil {
				return err
			}
			env.Vars = append(env.Vars, tok.Env()...)
			// For pkcs11-tool's --pin env:TEST_PIN, which keeps the PIN
			// off its command line too.
			env.Vars = append(env.Vars, "TEST_PIN="+string(tok.PIN))
			return nil
		},
	})
}

// Every command and flag says what it is for in --help.
func TestEveryFlagDescribed(t *testing.T) {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	var walk func(path string, cs []*cli.Command)
	walk = func(path string, cs []*cli.Command) {
		for _, c := range cs {
			p := path + " " + c.Name
			if c.Usage == "" {
				t.Errorf("%s has no usage", p)
			}
			for _, f := range c.Flags {
				if df, ok := f.(cli.DocGenerationFlag); !ok || df.GetUsage() == "" {
					t.Errorf("%s --%s has no description", p, f.Names()[0])
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk("segl", app.Commands)
}
