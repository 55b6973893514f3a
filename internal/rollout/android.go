package rollout

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/play"
)

// productionTrack is where rollouts happen; the rollback build waits on the
// internal track until it replaces the target here.
const productionTrack = "production"

// androidPlan is one Play edit per action. Each connector call already
// reads the track inside its edit and commits nothing when the track is as
// wanted; the pending-step check reads the committed track on its own, so
// a restarted action says what it found.
func (s *Service) androidPlan(ctx context.Context, a *ripcord.RolloutAction, t *target) (*plan, error) {
	b, err := s.store.BuildGetByID(ctx, t.rp.BuildID)
	if err != nil {
		return nil, fmt.Errorf("read the android build of %s %s: %w", t.app.Name, t.rel.Version, err)
	}
	code, err := strconv.ParseInt(b.BuildNumber, 10, 64)
	if err != nil {
		return nil, ripcord.Errorf(ripcord.EINVALID, "the android build of %s %s has build number %q, not a versionCode", t.app.Name, t.rel.Version, b.BuildNumber)
	}
	pkg := t.app.AndroidPackage
	var pl Play
	client := func(ctx context.Context) (Play, error) {
		if pl == nil {
			if pl, err = s.play(ctx, t.app); err != nil {
				return nil, err
			}
		}
		return pl, nil
	}
	// track reads production and finds the release serving a versionCode.
	release := func(ctx context.Context, vc int64) (*play.Release, *play.Track, error) {
		c, err := client(ctx)
		if err != nil {
			return nil, nil, err
		}
		tr, err := c.GetTrack(ctx, pkg, productionTrack)
		if err != nil {
			return nil, nil, err
		}
		return tr.Find(vc), tr, nil
	}
	p := &plan{extra: map[string]any{"version_code": code}}
	switch a.Kind {
	case ripcord.ActionHalt:
		p.steps = []step{{name: fmt.Sprintf("edit: halt %d", code), write: true,
			check: func(ctx context.Context) (bool, error) {
				r, _, err := release(ctx, code)
				return r != nil && r.Status == play.StatusHalted, err
			},
			do: func(ctx context.Context) (string, error) {
				c, err := client(ctx)
				if err != nil {
					return "", err
				}
				return "", c.Halt(ctx, pkg, productionTrack, code)
			}}}
	case ripcord.ActionResume:
		p.steps = []step{{name: fmt.Sprintf("edit: resume %d", code), write: true,
			check: func(ctx context.Context) (bool, error) {
				r, _, err := release(ctx, code)
				return r != nil && r.Status == play.StatusInProgress, err
			},
			do: func(ctx context.Context) (string, error) {
				c, err := client(ctx)
				if err != nil {
					return "", err
				}
				return "", c.Resume(ctx, pkg, productionTrack, code, 0)
			}}}
	case ripcord.ActionRollback:
		rb, err := s.rollbackBuild(ctx, t)
		if err != nil {
			return nil, err
		}
		rbCode, _ := strconv.ParseInt(rb.BuildNumber, 10, 64) // checked by rollbackBuild
		p.extra["rollback_version"], p.extra["rollback_version_code"] = rb.Version, rbCode
		p.steps = []step{{name: fmt.Sprintf("edit: halt %d + complete %d", code, rbCode), write: true,
			check: func(ctx context.Context) (bool, error) {
				r, tr, err := release(ctx, rbCode)
				if err != nil {
					return false, err
				}
				tgt := tr.Find(code)
				return r != nil && r.Status == play.StatusCompleted && (tgt == nil || tgt.Status == play.StatusHalted), nil
			},
			do: func(ctx context.Context) (string, error) {
				c, err := client(ctx)
				if err != nil {
					return "", err
				}
				return "", c.RollBack(ctx, pkg, code, rbCode)
			}}}
	}
	return p, nil
}
