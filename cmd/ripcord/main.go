// Command ripcord is Ripcord's single binary: server, demo and CLI. It only
// wires the process to the CLI; everything else lives in internal/.
package main

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/ripcordhq/ripcord/internal/cli"
)

func main() {
	env := cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ(),
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
	}
	os.Exit(cli.New(env).Run(context.Background(), os.Args[1:]))
}
