package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/cli"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
)

// TestBuildUploadReadsTheArtifact uploads a real APK (a committed fixture:
// com.example.rollback, versionName 1.2.4, versionCode 43) and checks that
// the CLI takes the version and build number from it, and refuses flags or
// an app that contradict it.
func TestBuildUploadReadsTheArtifact(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = filepath.Join(dir, "r.db")
	cfg.Artifacts.URL = filepath.Join(dir, "artifacts")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, d.Listen())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; d.Close() })
	token, _, err := d.Access.TokenCreate(daemon.LocalContext(context.Background(), "t"), "admin", ripcord.RoleAdmin)
	require.NoError(t, err)

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := cli.Env{Stdout: &out, Stderr: &errb, Environ: []string{"RIPCORD_SERVER=" + d.URL(), "RIPCORD_TOKEN=" + token}}
		code := cli.New(env).Run(context.Background(), args)
		return code, out.String(), errb.String()
	}
	apk := filepath.Join("..", "apksig", "testdata", "ripcord-rsa.apk")

	code, _, stderr := run("app", "create", "rollback", "--android-package", "com.example.rollback")
	require.Equal(t, cli.ExitOK, code, stderr)
	code, _, stderr = run("app", "create", "other", "--android-package", "com.example.other")
	require.Equal(t, cli.ExitOK, code, stderr)

	code, _, stderr = run("build", "upload", "--app", "rollback", "--platform", "android", "--file", apk, "--version", "9.9.9")
	require.Equal(t, cli.ExitUsage, code)
	require.Contains(t, stderr, "--version 9.9.9 does not match the artifact's version 1.2.4")

	code, _, stderr = run("build", "upload", "--app", "rollback", "--platform", "ios", "--file", apk)
	require.Equal(t, cli.ExitUsage, code)
	require.Contains(t, stderr, "the file is an apk (android) but --platform is ios")

	code, _, stderr = run("build", "upload", "--app", "other", "--platform", "android", "--file", apk)
	require.Equal(t, cli.ExitFailed, code)
	require.Contains(t, stderr, "is com.example.rollback, but app other is com.example.other on android")

	code, stdout, stderr := run("build", "upload", "--app", "rollback", "--platform", "android", "--file", apk)
	require.Equal(t, cli.ExitOK, code, stderr)
	require.Regexp(t, `android\s+1\.2\.4\s+43\s`, stdout)
}
