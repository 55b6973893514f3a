package cli

import (
	"fmt"
	"os"
	"strings"
)

// readSecret resolves a secret given as env:NAME or file:PATH. Plain values
// are refused: they would land in shell history and process listings.
func (c *CLI) readSecret(flag, spec string) (string, error) {
	kind, ref, ok := strings.Cut(spec, ":")
	switch {
	case spec == "":
		return "", nil
	case ok && kind == "env" && ref != "":
		v := c.getenv(ref)
		if v == "" {
			return "", usagef("%s: environment variable %s is not set or empty", flag, ref)
		}
		return v, nil
	case ok && kind == "file" && ref != "":
		b, err := os.ReadFile(ref)
		if err != nil {
			return "", fmt.Errorf("%s: read %s: %w", flag, ref, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", usagef("%s: give the secret as env:NAME or file:PATH, not as plain text on the command line", flag)
}
