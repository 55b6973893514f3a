package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
	"github.com/ripcordhq/ripcord/internal/web"
)

// TestPlanSentences checks what the confirmations say in each store, and
// that an action the state machine refuses is offered as not possible.
func TestPlanSentences(t *testing.T) {
	t.Parallel()
	rel := &ripcord.Release{Version: "1.2.0"}
	build := &ripcord.Build{Version: "1.2.0", BuildNumber: "120"}
	ready := &ripcord.RollbackBuild{State: ripcord.RollbackReady, Version: "1.2.1", BuildNumber: "121"}
	approved := &ripcord.RollbackBuild{State: ripcord.RollbackReady, Version: "1.2.1", BuildNumber: "121", StoreVersionID: "v1", StoreVersionState: ripcord.AppStoreApproved}
	waiting := &ripcord.RollbackBuild{State: ripcord.RollbackReady, Version: "1.2.1", BuildNumber: "121", StoreVersionID: "v1", StoreVersionState: "WAITING_FOR_REVIEW"}
	tests := []struct {
		name     string
		kind     string
		pv       web.ReleasePlatformView
		possible bool
		want     string
	}{
		{"play halt", web.ActionHalt, web.ReleasePlatformView{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, Build: build}, true,
			"One edit on Google Play: halt 1.2.0 (versionCode 120) on the production track."},
		{"play rollback", web.ActionRollback, web.ReleasePlatformView{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, Build: build, Rollback: ready}, true,
			"One edit on Google Play: halt 1.2.0 (versionCode 120) and release 1.2.1 (121) to 100 % of production."},
		{"play rollback not ready", web.ActionRollback, web.ReleasePlatformView{Platform: ripcord.Android, Status: ripcord.StatusRollingOut, Build: build,
			Rollback: &ripcord.RollbackBuild{State: ripcord.RollbackInvalid, Reason: "no upload key"}}, false, "No rollback build of 1.2.0 is ready"},
		{"app store rollback", web.ActionRollback, web.ReleasePlatformView{Platform: ripcord.IOS, Status: ripcord.StatusRollingOut, Build: build, Rollback: approved}, true,
			"App Store Connect: release version 1.2.1 (build 121), which replaces 1.2.0 for everyone."},
		{"app store rollback not approved", web.ActionRollback, web.ReleasePlatformView{Platform: ripcord.IOS, Status: ripcord.StatusRollingOut, Build: build, Rollback: waiting}, false,
			"No approved rollback version of 1.2.0"},
		{"app store pause", web.ActionPause, web.ReleasePlatformView{Platform: ripcord.IOS, Status: ripcord.StatusRollingOut, Build: build}, true,
			"people who update by hand still get 1.2.0"},
		{"halt a draft", web.ActionHalt, web.ReleasePlatformView{Platform: ripcord.Android, Status: ripcord.StatusDraft}, false, "halt"},
		{"halt on the App Store", web.ActionHalt, web.ReleasePlatformView{Platform: ripcord.IOS, Status: ripcord.StatusRollingOut}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := web.PlanAction(tt.kind, rel, &tt.pv)
			require.Equal(t, tt.possible, p.Possible, "%+v", p)
			require.Contains(t, p.Sentence+p.Why, tt.want)
			if !p.Possible {
				require.NotEmpty(t, p.Why, "a refusal says why")
			}
		})
	}
}

// TestEventsStream checks the live updates: a change to the release's
// audit trail reaches its open page's stream, a change to another release
// does not, and a page rendered before a change catches up at once.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, open opener) {
		tb := setupWith(t, open, nil)
		b := tb.browser(t)
		b.signIn(t, "viewer@example.com", "viewer password")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		head, _, err := tb.store.AuditHead(ctx)
		require.NoError(t, err)

		req, err := http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/ui/events?app=shop&version=1.2.0&since="+itoa(head), nil)
		require.NoError(t, err)
		resp, err := b.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		events := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if line := sc.Text(); strings.HasPrefix(line, "data: ") {
					events <- line
				}
			}
			close(events)
		}()

		appendAudit := func(target string) {
			require.NoError(t, tb.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
				return tx.AuditAppend(ctx, &ripcord.AuditEntry{At: time.Now(), Actor: "ripcord:health", Action: "release.halt", Target: target})
			}))
		}
		appendAudit("release/shop/1.3.0/android") // another release
		appendAudit("release/shop/1.2.0/android")
		select {
		case ev := <-events:
			require.Contains(t, ev, `"target":"release/shop/1.2.0/android"`, "the other release's change is not sent")
		case <-ctx.Done():
			t.Fatal("no event arrived")
		}

		// A page rendered at an older head is told to refresh at once.
		req, err = http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/ui/events?app=shop&version=1.2.0&since=0", nil)
		require.NoError(t, err)
		resp2, err := b.Do(req)
		require.NoError(t, err)
		defer resp2.Body.Close()
		sc := bufio.NewScanner(resp2.Body)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "data: ") {
		}
		require.Contains(t, sc.Text(), `"action":"catch_up"`)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestEventsNeedSession checks that the stream, like every page, is for
// signed-in people only.
func TestEventsNeedSession(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	req, err := http.NewRequest("GET", tb.srv.URL+"/ui/events", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestEventsEndOnClose checks that closing the dashboard (the server's
// shutdown) ends open streams, so a graceful shutdown does not wait for
// pages that never go idle.
func TestEventsEndOnClose(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.browser(t)
	b.signIn(t, "viewer@example.com", "viewer password")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", tb.srv.URL+"/ui/events", nil)
	require.NoError(t, err)
	resp, err := b.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tb.handler.Close()
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err, "the stream ended cleanly")
	require.NoError(t, ctx.Err(), "before the test's deadline")
}
