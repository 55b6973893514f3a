package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// dotRipcord is the sample app's .ripcord directory: a runbook for its
// checkout flow and its release gate, as the app's CI would push them.
//
//go:embed assets/ripcord
var dotRipcord embed.FS

// beats is the story, in order.
func (s *Story) beats() []beat {
	return []beat{
		{"Rollback build for Android prepared in the background", s.rollbackReady("android", "Google Play's internal track")},
		{"Rollback build for iOS prepared, uploaded and processed", s.rollbackReady("ios", "App Store Connect")},
		{"1.1.0 users report a healthy baseline (simulated fleet, real Sentry envelopes)", s.baseline},
		{"1.2.0 submitted to both stores; App Review approves the iOS build", s.submit},
		{"CI pushes the checkout runbook and the release gate; 1.2.0 touches checkout", s.pushRunbooks},
		{"Gate check: NO-GO, and the rollout refuses to start", s.noGo},
		{"Checkout rollback rehearsed in staging, timed by Ripcord; release manager and QA approve", s.rehearseAndApprove},
		{"Gate check: GO", s.goDecision},
		{"Android rollout starts at 8 %", s.start("android")},
		{"A day of healthy traffic on 1.2.0; Android advances to 30 %", s.advanceAndroid},
		{"iOS phased release starts (Android is at its second stage)", s.start("ios")},
		{"iOS rollback version 1.2.1 created, submitted and approved by App Review", s.iosRollbackApproved},
		{"Crash spike on 1.2.0: Ripcord halts Android and pauses iOS on its own", s.crashSpike},
		{"One click: roll back on both stores", s.rollBack},
	}
}

// rollbackReady waits until the target's rollback build on platform is
// ready, moving the clock a minute per poll (App Store processing takes
// store time).
func (s *Story) rollbackReady(platform, where string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		return s.waitFor(ctx, "the "+platform+" rollback build", time.Minute, 60*time.Second, func(ctx context.Context) (bool, string, error) {
			rb, err := s.rollbackBuild(ctx, platform)
			if err != nil {
				return false, "", err
			}
			switch rb.State {
			case "ready":
				return true, fmt.Sprintf("%s (%s) re-signed from the live %s build, verified, on %s", rb.Version, rb.BuildNumber, liveVersion, where), nil
			case "invalid", "not_shippable":
				return false, "", fmt.Errorf("the %s rollback build is %s: %s", platform, rb.State, rb.Reason)
			}
			return false, rb.State + " " + rb.Reason, nil
		})
	}
}

// baseline runs half a day of 1.1.0 traffic, the baseline 1.2.0's health
// is compared with.
func (s *Story) baseline(ctx context.Context) (string, error) {
	t, err := newTraffic(ctx, s.env, s.seeded.App.ID)
	if err != nil {
		return "", err
	}
	s.fleet = t
	if _, _, err := t.run(ctx, 2*time.Hour, time.Hour); err != nil {
		return "", err
	}
	for _, p := range []ripcord.Platform{ripcord.Android, ripcord.IOS} {
		if err := s.report(ctx, p, liveVersion, 12, 4000, 4); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d devices per platform send real Sentry envelopes; the team's crash reporter adds 48,000 sessions per platform through the batch API", devicesPerPlatform), nil
}

// pushRunbooks pushes the embedded .ripcord directory and records the
// paths and flags 1.2.0 changes, as the app's CI does.
func (s *Story) pushRunbooks(ctx context.Context) (string, error) {
	var req httpapi.RunbookPushRequest
	req.GitSHA = "e4f5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6"
	err := fs.WalkDir(dotRipcord, "assets/ripcord", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := dotRipcord.ReadFile(p)
		if err != nil {
			return err
		}
		req.Files = append(req.Files, httpapi.RunbookFile{Path: ".ripcord/" + strings.TrimPrefix(p, "assets/ripcord/"), Content: string(b)})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the demo runbooks: %w", err)
	}
	if err := s.api.Do(ctx, "POST", "/api/v1/apps/"+AppName+"/runbooks/push", nil, req, nil); err != nil {
		return "", err
	}
	changes := httpapi.ReleaseChangesRequest{Paths: []string{"ios/Checkout/PaymentSheet.swift", "android/checkout/PaymentSheet.kt"}, Flags: []string{"new_checkout"}, Source: "git a1b2c3d..e4f5a6b"}
	if err := s.api.Do(ctx, "PUT", s.releasePath("changes"), nil, changes, nil); err != nil {
		return "", err
	}
	return "runbook checkout (flow checkout) and gate.yaml stored with the git sha; 2 paths and flag new_checkout recorded", nil
}

// releasePath is the API path of the target release, plus a suffix.
func (s *Story) releasePath(suffix string) string {
	return path.Join("/api/v1/apps", AppName, "releases", targetVersion, suffix)
}

// gateCheck records a gate check and says which items fail.
func (s *Story) gateCheck(ctx context.Context) (*httpapi.GateDecision, []string, error) {
	var d httpapi.GateDecision
	if err := s.api.Do(ctx, "POST", s.releasePath("gate/check"), nil, nil, &d); err != nil {
		return nil, nil, err
	}
	var failing []string
	for _, it := range d.Items {
		if !it.Pass {
			failing = append(failing, it.ID)
		}
	}
	return &d, failing, nil
}

func (s *Story) noGo(ctx context.Context) (string, error) {
	d, failing, err := s.gateCheck(ctx)
	if err != nil {
		return "", err
	}
	if d.Go {
		return "", errors.New("the gate said go before the runbook was rehearsed")
	}
	err = s.api.Do(ctx, "POST", s.releasePath("start"), url.Values{"platform": {"android"}}, nil, nil)
	if ripcord.ErrorCode(err) != ripcord.ECONFLICT {
		return "", fmt.Errorf("starting the rollout without a go should be refused, got %v", err)
	}
	return fmt.Sprintf("failing: %s; start refused: %s", strings.Join(failing, ", "), ripcord.ErrorMessage(err)), nil
}

// rehearseAndApprove walks the checkout runbook in staging through the
// API (as the dashboard does), with each rollback level timed by the
// server while the demo clock moves, then approves as the demo user.
func (s *Story) rehearseAndApprove(ctx context.Context) (string, error) {
	base := "/api/v1/apps/" + AppName + "/rehearsals"
	var reh httpapi.Rehearsal
	if err := s.user.Do(ctx, "POST", base, nil, httpapi.RehearsalStartRequest{Runbook: "checkout", Env: "staging"}, &reh); err != nil {
		return "", err
	}
	id := fmt.Sprint(reh.ID)
	for n := 1; n <= 3; n++ {
		if err := s.user.Do(ctx, "POST", fmt.Sprintf("%s/%s/steps/%d/start", base, id, n), nil, nil, nil); err != nil {
			return "", err
		}
		if err := s.env.Advance(ctx, time.Minute); err != nil {
			return "", err
		}
		if err := s.user.Do(ctx, "POST", fmt.Sprintf("%s/%s/steps/%d/end", base, id, n), nil, httpapi.RehearsalOutcomeRequest{Outcome: "done as written"}, nil); err != nil {
			return "", err
		}
	}
	for _, lv := range []struct {
		level string
		took  time.Duration
	}{{"flag", 90 * time.Second}, {"deploy", 6 * time.Minute}, {"data", 20 * time.Minute}} {
		if err := s.user.Do(ctx, "POST", fmt.Sprintf("%s/%s/rollback/%s/start", base, id, lv.level), nil, nil, nil); err != nil {
			return "", err
		}
		if err := s.env.Advance(ctx, lv.took); err != nil {
			return "", err
		}
		if err := s.user.Do(ctx, "POST", fmt.Sprintf("%s/%s/rollback/%s/end", base, id, lv.level), nil, nil, nil); err != nil {
			return "", err
		}
	}
	if err := s.user.Do(ctx, "POST", base+"/"+id+"/finish", nil, httpapi.RehearsalOutcomeRequest{Outcome: "Flag disabled, staging back to baseline."}, &reh); err != nil {
		return "", err
	}
	if err := s.asUser(ctx, "POST", s.releasePath("gate/approvals"), httpapi.GateApproveRequest{Item: "approvals"}); err != nil {
		return "", err
	}
	return reh.Result, nil
}

func (s *Story) goDecision(ctx context.Context) (string, error) {
	d, failing, err := s.gateCheck(ctx)
	if err != nil {
		return "", err
	}
	if !d.Go {
		return "", fmt.Errorf("the gate still says no-go: %s", strings.Join(failing, ", "))
	}
	return fmt.Sprintf("every item passes (%d); decision recorded by %s", len(d.Items), d.DecidedBy), nil
}

// submit puts the rollout plan in place (the default, without the weekend
// hold, so the demo plays any day), submits 1.2.0 to both stores and waits
// while App Review looks at the iOS build.
func (s *Story) submit(ctx context.Context) (string, error) {
	var plan httpapi.RolloutPlan
	if err := s.get(ctx, "/api/v1/apps/"+AppName+"/rollout-plan", nil, &plan); err != nil {
		return "", err
	}
	plan.HoldWeekends, plan.Holidays = false, nil
	if err := s.api.Do(ctx, "PUT", "/api/v1/apps/"+AppName+"/rollout-plan", nil, plan, nil); err != nil {
		return "", err
	}
	if err := s.api.Do(ctx, "POST", s.releasePath("submit"), url.Values{"platform": {"all"}}, nil, nil); err != nil {
		return "", err
	}
	reviewed := false
	return s.waitFor(ctx, "App Review's approval of 1.2.0", 0, 90*time.Second, func(ctx context.Context) (bool, string, error) {
		i, err := s.platformStatus(ctx, "ios")
		if err != nil {
			return false, "", err
		}
		if i == "uploaded" { // App Store Connect processes the uploaded build
			if err := s.env.Advance(ctx, 5*time.Minute); err != nil {
				return false, "", err
			}
		}
		if i == "in_review" && !reviewed {
			// App Review takes about a day of store time; then the
			// scheduler's next pass (run now, not in a minute) sees it.
			if err := s.env.Advance(ctx, 25*time.Hour); err != nil {
				return false, "", err
			}
			reviewed = true
		}
		if _, err := s.env.Daemon.Stages.Tick(ctx); err != nil {
			return false, "", err
		}
		a, err := s.platformStatus(ctx, "android")
		if err != nil {
			return false, "", err
		}
		if i, err = s.platformStatus(ctx, "ios"); err != nil {
			return false, "", err
		}
		state := "android " + a + ", ios " + i
		return a == "approved" && i == "approved", state, nil
	})
}

// start starts the rollout on a platform and lets 1.2.0 reach the share of
// devices the store gives it.
func (s *Story) start(platform string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var res httpapi.StageActionResult
		err := s.api.Do(ctx, "POST", s.releasePath("start"), url.Values{"platform": {platform}}, nil, &res)
		if err != nil {
			// The scheduler may have started it on its own (iOS on its
			// day); then the release says so.
			rel, rerr := s.release(ctx)
			if rerr != nil {
				return "", err
			}
			res.Release = *rel
		}
		for _, p := range res.Platforms {
			if p.Platform == platform && p.Status != "rolling_out" && err != nil {
				return "", err
			}
			if p.Platform == platform && p.Rollout != nil {
				s.fleet.setRollout(ripcord.Platform(platform), p.Rollout.Percent/100)
				return p.Rollout.Label, nil
			}
		}
		return "", fmt.Errorf("the release shows no %s rollout after the start", platform)
	}
}

// advanceAndroid runs 1.2.0 traffic until the next stage is due and the
// health verdict allows it, then advances.
func (s *Story) advanceAndroid(ctx context.Context) (string, error) {
	var verdict string
	for step := 0; step < 20; step++ {
		if _, _, err := s.fleet.run(ctx, 2*time.Hour, time.Hour); err != nil {
			return "", err
		}
		// 8 % of users: about 3,000 sessions an hour, no crash.
		if err := s.report(ctx, ripcord.Android, targetVersion, 2, 3000, 0); err != nil {
			return "", err
		}
		var res httpapi.StageActionResult
		err := s.api.Do(ctx, "POST", s.releasePath("advance"), url.Values{"platform": {"android"}}, nil, &res)
		if ripcord.ErrorCode(err) == ripcord.ECONFLICT {
			verdict = ripcord.ErrorMessage(err)
			rel, rerr := s.release(ctx)
			if rerr != nil {
				return "", rerr
			}
			advanced := false
			for _, p := range rel.Platforms {
				advanced = advanced || (p.Platform == "android" && p.Rollout != nil && p.Rollout.Stage >= 2)
			}
			if !advanced {
				continue // not due yet, or health not conclusive: more traffic
			}
			res.Release = *rel // the scheduler advanced it first
		} else if err != nil {
			return "", err
		}
		for _, p := range res.Platforms {
			if p.Platform == "android" && p.Rollout != nil {
				s.fleet.setRollout(ripcord.Android, p.Rollout.Percent/100)
				return p.Rollout.Label + " on a healthy verdict", nil
			}
		}
	}
	return "", fmt.Errorf("android did not advance after 40 hours: %s", verdict)
}

// iosRollbackApproved waits while Ripcord creates the rollback's App Store
// version and App Review approves it.
func (s *Story) iosRollbackApproved(ctx context.Context) (string, error) {
	var window string
	return s.waitFor(ctx, "the approval of the iOS rollback version", 0, 90*time.Second, func(ctx context.Context) (bool, string, error) {
		// Ask for the follow-up now rather than wait for the periodic
		// watch (every 5 minutes of real time); each run reads the store
		// first, so asking again never submits twice.
		if err := s.api.Do(ctx, "POST", s.releasePath("rollback-build"), url.Values{"platform": {"ios"}}, nil, nil); err != nil {
			return false, "", err
		}
		time.Sleep(200 * time.Millisecond)
		rb, err := s.rollbackBuild(ctx, "ios")
		if err != nil {
			return false, "", err
		}
		if rb.Protection != "" {
			window = rb.Protection
		}
		if rb.Releasable {
			return true, fmt.Sprintf("%s %s; before that: %s", rb.Version, rb.StoreVersionState, window), nil
		}
		if rb.StoreVersionState != "" { // in App Review: a few hours of store time pass
			if _, _, err := s.fleet.run(ctx, 3*time.Hour, time.Hour); err != nil {
				return false, "", err
			}
			if err := s.report(ctx, ripcord.Android, targetVersion, 3, 10000, 0); err != nil {
				return false, "", err
			}
		}
		return false, rb.StoreVersionState + " " + rb.Protection, nil
	})
}

// crashSpike adds crashing devices on 1.2.0 and waits for the automatic
// halt and pause.
func (s *Story) crashSpike(ctx context.Context) (string, error) {
	for _, p := range []ripcord.Platform{ripcord.Android, ripcord.IOS} {
		if err := s.fleet.spike(p); err != nil {
			return "", err
		}
	}
	began := time.Now()
	return s.waitFor(ctx, "the automatic halt and pause", 0, 60*time.Second, func(ctx context.Context) (bool, string, error) {
		a, err := s.platformStatus(ctx, "android")
		if err != nil {
			return false, "", err
		}
		i, err := s.platformStatus(ctx, "ios")
		if err != nil {
			return false, "", err
		}
		if a == "halted" && i == "paused" {
			return true, fmt.Sprintf("android halted, ios paused %.1fs after the spike began reaching the server", time.Since(began).Seconds()), nil
		}
		if _, _, err := s.fleet.run(ctx, 10*time.Minute, 10*time.Minute); err != nil {
			return false, "", err
		}
		return false, "android " + a + ", ios " + i, nil
	})
}

// rollBack asks for the rollback on both stores in one request and prints
// each step as the jobs complete them.
func (s *Story) rollBack(ctx context.Context) (string, error) {
	var out httpapi.RolloutActions
	if err := s.api.Do(ctx, "POST", s.releasePath("rollback"), nil, httpapi.RolloutActionRequest{Platforms: []string{"android", "ios"}}, &out); err != nil {
		return "", err
	}
	var done []string
	for _, pa := range out.Actions {
		if pa.Error != nil {
			return "", fmt.Errorf("rollback refused on %s: %s", pa.Platform, pa.Error.Message)
		}
		shown := 0
		_, err := s.waitFor(ctx, "the "+pa.Platform+" rollback", 0, 60*time.Second, func(ctx context.Context) (bool, string, error) {
			var a httpapi.Action
			if err := s.get(ctx, s.releasePath(fmt.Sprintf("actions/%d", pa.Action.ID)), nil, &a); err != nil {
				return false, "", err
			}
			for ; shown < len(a.Steps); shown++ {
				s.printf("        %s: %s %s", pa.Platform, a.Steps[shown].Name, a.Steps[shown].Note)
			}
			switch a.State {
			case "succeeded":
				return true, "", nil
			case "failed":
				return false, "", fmt.Errorf("the %s rollback failed: %s", pa.Platform, a.Error)
			}
			return false, a.State, nil
		})
		if err != nil {
			return "", err
		}
		done = append(done, pa.Platform)
	}
	return "rolled back on " + strings.Join(done, " and "), nil
}

// asUser sends a request as the demo user (approvals carry a person).
func (s *Story) asUser(ctx context.Context, method, p string, body any) error {
	return s.user.Do(ctx, method, p, nil, body, nil)
}
