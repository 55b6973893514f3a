package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/cli"
)

// runUntil starts the CLI with args and waits, bounded, until its output
// matches re; it returns the first submatch and a stop function that
// cancels the command and returns its exit code.
func runUntil(t *testing.T, re *regexp.Regexp, args ...string) (string, func() int) {
	t.Helper()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	code := make(chan int, 1)
	go func() { code <- cli.New(cli.Env{Stdout: &stdout, Stderr: &stderr}).Run(ctx, args) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			stop := func() int {
				cancel()
				select {
				case c := <-code:
					return c
				case <-time.After(20 * time.Second):
					t.Fatal("command did not stop within 20s")
					return -1
				}
			}
			t.Cleanup(func() { cancel() })
			return m[1], stop
		}
		select {
		case c := <-code:
			t.Fatalf("%v exited with %d\nstdout:\n%s\nstderr:\n%s", args, c, stdout.String(), stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "%v printed nothing matching %s\nstderr:\n%s", args, re, stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
}

var fakeURL = regexp.MustCompile(`Fake stores are serving on (http://\S+)`)

// TestFakestoreServe runs `ripcord fakestore serve`, uses the credentials it
// writes the way a client would, creates an app through the admin API, and
// checks the app survives a restart on the same state directory.
func TestFakestoreServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := runUntil(t, fakeURL, "fakestore", "serve", "--addr", "127.0.0.1:0", "--state-dir", dir, "--log-level", "warn")

	for _, f := range []string{"asc-key.p8", "asc-key.json", "play-service-account.json"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	var sa struct {
		Type     string `json:"type"`
		Email    string `json:"client_email"`
		TokenURI string `json:"token_uri"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "play-service-account.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &sa))
	require.Equal(t, "service_account", sa.Type)
	require.Equal(t, base+"/token", sa.TokenURI, "clients fetch OAuth tokens from the fake itself")

	// An unsigned token request is refused the way Google refuses it.
	resp, err := http.PostForm(sa.TokenURI, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"not-a-jwt"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, err = http.Post(base+"/_fake/play/apps", "application/json", bytes.NewReader([]byte(`{"package_name":"com.example.ripcord.demo","existing_version_codes":[110]}`)))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "create app: %s", body)
	require.Equal(t, cli.ExitOK, stop())

	base2, stop2 := runUntil(t, fakeURL, "fakestore", "serve", "--addr", "127.0.0.1:0", "--state-dir", dir, "--log-level", "warn")
	resp, err = http.Get(base2 + "/_fake/state")
	require.NoError(t, err)
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(state), "com.example.ripcord.demo", "the app survives a restart")
	require.Equal(t, cli.ExitOK, stop2())
}
