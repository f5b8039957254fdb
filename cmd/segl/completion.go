package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask segl itself for the words that may come
// next (urfave/cli's --generate-bash-completion), so they follow the
// commands as they are.
const bashCompletion = `# segl completion for bash: . <(segl completion bash)
_segl_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}"
	local words
	words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	COMPREPLY=($(compgen -W "${words}" -- "${cur}"))
}
complete -o default -F _segl_complete segl
`

const zshCompletion = `#compdef segl
# segl completion for zsh: segl completion zsh > "${fpath[1]}/_segl"
_segl() {
	local -a words_next
	words_next=("${(@f)$("${words[1]}" "${(@)words[2,CURRENT-1]}" --generate-bash-completion 2>/dev/null)}")
	_describe 'segl' words_next
}
compdef _segl segl
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, s)
			default:
				return fmt.Errorf("segl completion %q: give bash, zsh or fish", shell)
			}
			return nil
		},
	}
}

// manCommand prints segl's man page, made from the command definitions
// (make man).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print segl's man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, s)
			return nil
		},
	}
}
