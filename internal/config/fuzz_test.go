package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file. Load must never
// panic, must return either a valid Config or only *Error values, and a
// Config it returns must pass Validate.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(f, err)
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		"addr: [\n",
		"a: &a [*a]\nlog: *a\n",
		"log: &l {level: *l}\n",
		"http: &h {http: *h}\n",
		"<<: {addr: ':1'}\n",
		"? [a]\n: b\n",
		"a: b\n---\nc: d\n",
		"artifacts.max_bytes: 1.5GB\nsecret_key_file: key.txt\n",
		"database_url: postgres://u:p%zz@h/db\n",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), DefaultFile)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		cfg, err := Load(Sources{Path: path, Explicit: true})
		if err == nil {
			require.NoError(t, cfg.Validate())
			require.Len(t, cfg.Settings(), len(table()))
			return
		}
		require.Nil(t, cfg)
		joined, ok := err.(interface{ Unwrap() []error })
		require.True(t, ok, "Load must join its errors: %v", err)
		for _, e := range joined.Unwrap() {
			var cerr *Error
			require.True(t, errors.As(e, &cerr), "not an *Error: %v", e)
			require.NotEmpty(t, cerr.Msg)
		}
	})
}
