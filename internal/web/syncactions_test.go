package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ripcordhq/ripcord"
)

// Rollouts acts on a release's rollout and returns once the store
// acknowledged (internal/rollout).
type Rollouts interface {
	Halt(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
	Resume(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
	Rollback(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
}

// Pauser is the App Store pause, when the rollout service offers it.
type Pauser interface {
	Pause(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
}

// RolloutActions runs actions synchronously through a Rollouts service and
// reads the latest one back from the audit log. The dashboard's unit tests
// drive pages with it over a hand-written fake; the server uses
// DurableActions, whose steps are recorded as a job completes them.
type RolloutActions struct {
	Rollouts Rollouts
	Records  Records
}

// Start runs the action and returns it finished, or the error the service
// gave (nothing changed then).
func (a RolloutActions) Start(ctx context.Context, app, version string, platform ripcord.Platform, kind string) (*ActionView, error) {
	var err error
	switch kind {
	case ActionHalt:
		_, err = a.Rollouts.Halt(ctx, app, version, platform)
	case ActionResume:
		_, err = a.Rollouts.Resume(ctx, app, version, platform)
	case ActionRollback:
		_, err = a.Rollouts.Rollback(ctx, app, version, platform)
	case ActionPause:
		p, ok := a.Rollouts.(Pauser)
		if !ok {
			return nil, ripcord.Errorf(ripcord.EINVALID, "pausing the App Store phased release is not available in this Ripcord yet; pause it in App Store Connect")
		}
		_, err = p.Pause(ctx, app, version, platform)
	default:
		return nil, ripcord.Errorf(ripcord.EINVALID, "action %q is not known; use halt, pause, resume or rollback", kind)
	}
	if err != nil {
		return nil, err
	}
	return a.Latest(ctx, app, version, platform)
}

// Latest returns the newest recorded action on a release's platform.
func (a RolloutActions) Latest(ctx context.Context, app, version string, platform ripcord.Platform) (*ActionView, error) {
	es, err := a.Records.AuditListTargets(ctx, []string{fmt.Sprintf("release/%s/%s/%s", app, version, platform)}, 50)
	if err != nil {
		return nil, err
	}
	for i := len(es) - 1; i >= 0; i-- {
		kind, ok := strings.CutPrefix(es[i].Action, "release.")
		if !ok || (kind != ActionHalt && kind != ActionPause && kind != ActionResume && kind != ActionRollback) {
			continue
		}
		e := es[i]
		return actionFromAudit(e, kind, platform), nil
	}
	return nil, nil
}

// actionFromAudit describes a finished action from its audit entry: what
// the store was asked to do, with the version codes it recorded, and the
// record itself.
func actionFromAudit(e ripcord.AuditEntry, kind string, platform ripcord.Platform) *ActionView {
	var after struct {
		VersionCode         int64  `json:"version_code"`
		RollbackVersion     string `json:"rollback_version"`
		RollbackVersionCode int64  `json:"rollback_version_code"`
		Reason              string `json:"reason"`
	}
	_ = json.Unmarshal([]byte(e.After), &after)
	store := fmt.Sprintf("%s acknowledged the %s", platform.StoreName(), kind)
	switch {
	case kind == ActionRollback && after.RollbackVersion != "":
		store = fmt.Sprintf("%s acknowledged one edit: %d halted, %s (%d) released to 100 %% of production", platform.StoreName(), after.VersionCode, after.RollbackVersion, after.RollbackVersionCode)
	case after.VersionCode != 0:
		store = fmt.Sprintf("%s acknowledged the %s of %d", platform.StoreName(), kind, after.VersionCode)
	}
	steps := []StepView{{Name: store, State: "done", At: e.At}, {Name: "Recorded with audit entry #" + strconv.FormatInt(e.Seq, 10), State: "done", At: e.At}}
	if after.Reason != "" {
		steps[0].Detail = "because " + after.Reason
	}
	return &ActionView{ID: strconv.FormatInt(e.Seq, 10), Kind: kind, State: "succeeded", Actor: e.Actor, StartedAt: e.At, Steps: steps}
}
