package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // driver "sqlite", for sqlite-exec

	"github.com/ripcordhq/ripcord/internal/cli"
	"github.com/ripcordhq/ripcord/internal/config"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/logging"
)

// TestMain lets scripts `exec ripcord ...`: testscript re-runs this test
// binary under the name ripcord, which runs the real CLI in a subprocess.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ripcord": func() {
			env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}
			os.Exit(cli.New(env).Run(context.Background(), os.Args[1:]))
		},
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets its own SQLite
// database and artifact directory in $WORK, and these extra commands:
//
//	exits N CMD [ARGS...]   run CMD and require exit code N (stdout and stderr
//	                        can be checked afterwards, as after exec)
//	serve-bg                start a server in this process on the script's
//	                        database at 127.0.0.1:0, set RIPCORD_SERVER, and
//	                        stop it when the script ends
//	token-env FILE [VAR]    set VAR (default RIPCORD_TOKEN) to the "secret" of
//	                        the `token create --json` output saved in FILE
//	sqlite-exec DB SQL      run SQL on the SQLite file DB; it must change a row
//
// and, for `ripcord artifact` (artifact_test.go; fixtures are built once
// per test binary and copied into $WORK):
//
//	need TOOL...            fail in CI, skip elsewhere, when a tool is missing
//	make-keys DIR           write the upload, rotated and other keys in every
//	                        format and set UPLOAD_SHA256, ROTATED_SHA256 and
//	                        OTHER_SHA256
//	make-apk [-target N] DIR NAME minSdk versionCode versionName
//	                        write an APK signed by apksigner with the upload key
//	make-aab DIR NAME versionCode versionName
//	                        write an unsigned bundle
//	flip-byte FILE OFFSET|ENTRY+N
//	                        invert one byte of FILE
//
// and, for IPAs (ipa_test.go, on internal/ipa/ipatest; built once per test
// binary too):
//
//	make-identity DIR       write the test CA, the distribution identities
//	                        (dist.p12, old.p12, other.p12; password s3cret),
//	                        dist-key.pem, dist-chain.pem and App Store
//	                        profiles app/share/clip.mobileprovision
//	make-ipa [-sdk NAME] [-profile-days N] [-encrypted] [-entitlement K=V]
//	         [-without-profile BUNDLE_ID] [-profiles-list-new] DIR NAME version build
//	                        write an IPA signed by old.p12's identity
//	cms-verify IPA CA.pem N openssl cms -verify accepts all N signatures
//	zip-put ZIP ENTRY TEXT  replace (or add) one entry's content
//
// and, for `ripcord app credentials` (credentials_test.go):
//
//	make-credentials DIR    write an App Store Connect key, a Play service
//	                        account, Android keystores and an iOS identity
//	                        and profiles for com.acme.shop into DIR
//
// serve-bg uses $RIPCORD_SECRET_KEY as the server's secret key when set.
func TestScripts(t *testing.T) {
	t.Parallel()
	fx := newAndroidFixtures(t.TempDir())
	ios := newIOSFixtures(t.TempDir())
	creds := newCredentialFixtures(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("RIPCORD_DATABASE_URL", filepath.Join(env.WorkDir, "ripcord.db"))
			env.Setenv("RIPCORD_ARTIFACTS_URL", filepath.Join(env.WorkDir, "artifacts"))
			env.Setenv("USER", "tester") // names the local operator in audit entries
			env.Values[scriptT{}] = env.T()
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":            cmdExits,
			"serve-bg":         cmdServeBg,
			"token-env":        cmdTokenEnv,
			"sqlite-exec":      cmdSQLiteExec,
			"need":             cmdNeed,
			"make-keys":        fx.cmdMakeKeys,
			"make-apk":         fx.cmdMakeAPK,
			"make-aab":         fx.cmdMakeAAB,
			"flip-byte":        cmdFlipByte,
			"make-identity":    ios.cmdMakeIdentity,
			"make-ipa":         ios.cmdMakeIPA,
			"cms-verify":       cmdCMSVerify,
			"zip-put":          cmdZipPut,
			"make-credentials": creds.cmdMakeCredentials,
		},
	})
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

func cmdServeBg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: serve-bg")
	}
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = ts.Getenv("RIPCORD_DATABASE_URL")
	cfg.Artifacts.URL = ts.Getenv("RIPCORD_ARTIFACTS_URL")
	cfg.SecretKey = scriptSecretKey(ts)
	logFile, err := os.Create(ts.MkAbs("serve.log"))
	ts.Check(err)
	logger, err := logging.New(logFile, "text", "info")
	ts.Check(err)

	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Open(ctx, cfg, logger)
	if err != nil {
		cancel()
		ts.Fatalf("serve-bg: %v", err)
	}
	if err := d.Listen(); err != nil {
		cancel()
		d.Close()
		ts.Fatalf("serve-bg: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	ts.Defer(func() {
		cancel()
		if err := <-done; err != nil {
			ts.Logf("serve-bg: run: %v", err)
		}
		if err := d.Close(); err != nil {
			ts.Logf("serve-bg: close: %v", err)
		}
		logFile.Close()
	})
	ts.Setenv("RIPCORD_SERVER", d.URL())
}

func cmdTokenEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: token-env FILE [VAR]")
	}
	name := "RIPCORD_TOKEN"
	if len(args) == 2 {
		name = args[1]
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &out); err != nil {
		ts.Fatalf("token-env: %s: %v", args[0], err)
	}
	if out.Secret == "" {
		ts.Fatalf("token-env: %s has no secret", args[0])
	}
	ts.Setenv(name, out.Secret)
}

func cmdSQLiteExec(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sqlite-exec DB SQL")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(5000)")
	ts.Check(err)
	defer db.Close()
	res, err := db.Exec(args[1])
	ts.Check(err)
	n, err := res.RowsAffected()
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("sqlite-exec: %q changed no rows", args[1])
	}
}

// syncBuffer is a bytes.Buffer safe to write from Run's goroutine while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	demoURL   = regexp.MustCompile(`Ripcord demo is running at (http://\S+)`)
	demoToken = regexp.MustCompile(`admin token\s+(rcd_\S+)`)
	demoDir   = regexp.MustCompile(`state\s+(\S+) \(database, artifacts, fake stores\)`)
)

// TestDemo runs `ripcord demo` as a newcomer would, calls the API it prints,
// and checks that stopping it removes its temporary directory.
func TestDemo(t *testing.T) {
	t.Parallel()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		c := cli.New(cli.Env{Stdout: &stdout, Stderr: &stderr})
		code <- c.Run(ctx, []string{"demo", "--addr", "127.0.0.1:0"})
	}()

	var url, token, dir string
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := stdout.String()
		u, tok, d := demoURL.FindStringSubmatch(out), demoToken.FindStringSubmatch(out), demoDir.FindStringSubmatch(out)
		if u != nil && tok != nil && d != nil {
			url, token, dir = u[1], tok[1], d[1]
			break
		}
		select {
		case c := <-code:
			t.Fatalf("demo exited with %d before printing its URL and token\nstdout:\n%s\nstderr:\n%s", c, out, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no URL and token within 20s\nstdout:\n%s\nstderr:\n%s", out, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // only matters if the test fails
	require.DirExists(t, dir)

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/apps/demo/releases/1.2.0", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rel struct {
		Version   string `json:"version"`
		Platforms []struct {
			Platform string `json:"platform"`
			Status   string `json:"status"`
		} `json:"platforms"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rel))
	require.Equal(t, "1.2.0", rel.Version)
	require.Len(t, rel.Platforms, 2)

	cancel()
	select {
	case c := <-code:
		require.Equal(t, cli.ExitOK, c, "stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancellation")
	}
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "demo left its temporary directory %s behind", dir)
}
