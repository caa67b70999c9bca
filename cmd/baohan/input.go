package main

import (
	"fmt"
	"io"
	"os"
)

// maxInput bounds what a command reads from a file or stdin.
const maxInput = 64 << 20

// readInput reads the single optional positional argument FILE, or stdin
// when there is none or it is "-".
func readInput(env *Env, args []string) ([]byte, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("expected at most one FILE, got %d arguments", len(args))
	}
	var r io.Reader = env.Stdin
	name := "stdin"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, args[0]
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxInput)
	}
	return b, nil
}

// fileArg names the input of readInput in messages.
func fileArg(pos []string) string {
	if len(pos) == 1 {
		return pos[0]
	}
	return "stdin"
}
