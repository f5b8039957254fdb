// Command segl is Segl's command line for security officers and auditors.
//
// It talks to the HSM directly, configured by the environment:
// SEGL_HSM_MODULE, SEGL_HSM_TOKEN and the PIN in SEGL_HSM_PIN_FILE (or
// SEGL_HSM_PIN). PINs are never taken from flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/cmd/internal/version"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its streams passed in, so tests drive the real command.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	if err := app.Run(args); err != nil {
		var exit cli.ExitCoder
		if errors.As(err, &exit) {
			if msg := exit.Error(); msg != "" {
				fmt.Fprintln(stderr, "segl:", msg)
			}
			return exit.ExitCode()
		}
		fmt.Fprintln(stderr, "segl:", err)
		return 1
	}
	return 0
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version) }
	app := &cli.App{
		Name:    "segl",
		Version: version.String(),
		Usage:   "officer and auditor tool for the Segl signing and authentication server",
		Description: "The HSM is chosen by the environment: " +
			"SEGL_HSM_MODULE (the PKCS#11 library), SEGL_HSM_TOKEN (the token label), " +
			"SEGL_HSM_PIN_FILE (a file holding the user PIN; SEGL_HSM_PIN also works), and " +
			"SEGL_HSM_SO_PIN_FILE for the security officer's operations. PINs are never flags.",
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		Suggest:              true, // "did you mean …?" for a mistyped command or flag
		EnableBashCompletion: true,
		// Errors are printed once, by run.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			hsmCommand(),
			keysCommand(),
			usersCommand(),
			rpCommand(),
			auditCommand(),
			ceremonyCommand(),
			vectorsCommand(),
			codecardsCommand(),
			tokensCommand(),
			pivCommand(),
			officersCommand(),
			smsCommand(),
			pluginsCommand(),
			devicesCommand(),
			appCommand(),
			documentsCommand(),
			devCommand(),
			completionCommand(),
			manCommand(),
		},
	}
	// `segl help users` lists users' commands, as `segl users --help` does
	// (urfave/cli's own template lists them only once the command ran).
	var group func(path string, cs []*cli.Command)
	group = func(path string, cs []*cli.Command) {
		for _, c := range cs {
			if len(c.Subcommands) > 0 && c.CustomHelpTemplate == "" {
				c.CustomHelpTemplate = strings.ReplaceAll(groupHelp, "PATH", path+" "+c.Name)
			}
			group(path+" "+c.Name, c.Subcommands)
		}
	}
	group(app.Name, app.Commands)
	return app
}

const groupHelp = `NAME:
   PATH - {{.Usage}}

USAGE:
   PATH command [command options]{{if .Description}}

DESCRIPTION:
   {{wrap .Description 3}}{{end}}

COMMANDS:{{range .Subcommands}}{{if not .Hidden}}
   {{join .Names ", "}}{{"\t"}}{{.Usage}}{{end}}{{end}}

Run 'PATH command --help' for a command's options.
`

// Required flags say so in --help.
func init() {
	plain := cli.FlagStringer
	cli.FlagStringer = func(f cli.Flag) string {
		s := plain(f)
		if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
			s += " (required)"
		}
		return s
	}
}
