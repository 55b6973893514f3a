package rollout

import (
	"context"
	"fmt"
	"slices"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/appstore"
)

// errNoAppStore refuses iOS actions in a server with no App Store Connect
// access configured.
var errNoAppStore = ripcord.Errorf(ripcord.EINVALID, "this server cannot reach App Store Connect; iOS actions are not available")

// iosPlan acts on the App Store: pause and resume act on the target
// version's phased release, found by its versionString; rollback releases
// the approved rollback version, whose phased release is off, so it
// replaces the target for everyone in one release request.
func (s *Service) iosPlan(ctx context.Context, a *ripcord.RolloutAction, t *target) (*plan, error) {
	if s.appStore == nil {
		return nil, errNoAppStore
	}
	var as AppStore
	client := func(ctx context.Context) (AppStore, error) {
		if as == nil {
			c, err := s.appStore(ctx, t.app)
			if err != nil {
				return nil, err
			}
			as = c
		}
		return as, nil
	}
	p := &plan{extra: map[string]any{}}
	if a.Kind == ripcord.ActionRollback {
		rb, err := s.rollbackBuild(ctx, t)
		if err != nil {
			return nil, err
		}
		p.extra["rollback_version"], p.extra["rollback_build_number"], p.extra["store_version_id"] = rb.Version, rb.BuildNumber, rb.StoreVersionID
		p.steps = []step{{name: fmt.Sprintf("release App Store version %s (phased release off)", rb.Version), write: true,
			check: func(ctx context.Context) (bool, error) {
				c, err := client(ctx)
				if err != nil {
					return false, err
				}
				v, err := c.GetVersion(ctx, rb.StoreVersionID)
				if err != nil {
					return false, err
				}
				return v.State == appstore.StateReadyForDistribution || v.State == appstore.StateProcessingForDistrib, nil
			},
			do: func(ctx context.Context) (string, error) {
				c, err := client(ctx)
				if err != nil {
					return "", err
				}
				return rb.StoreVersionID, c.ReleaseVersion(ctx, rb.StoreVersionID)
			}}}
		return p, nil
	}

	find := fmt.Sprintf("find App Store version %s", t.rel.Version)
	versionID := func() string {
		if st := a.Step(find); st != nil {
			return st.Ref
		}
		return ""
	}
	want, verb := appstore.PhasedPaused, "pause"
	if a.Kind == ripcord.ActionResume {
		want, verb = appstore.PhasedActive, "resume"
	}
	p.steps = []step{
		{name: find, do: func(ctx context.Context) (string, error) {
			c, err := client(ctx)
			if err != nil {
				return "", err
			}
			return findVersion(ctx, c, t)
		}},
		{name: fmt.Sprintf("%s phased release of %s", verb, t.rel.Version), write: true,
			check: func(ctx context.Context) (bool, error) {
				c, err := client(ctx)
				if err != nil {
					return false, err
				}
				pr, err := c.GetPhasedRelease(ctx, versionID())
				return err == nil && pr.State == want, err
			},
			do: func(ctx context.Context) (string, error) {
				c, err := client(ctx)
				if err != nil {
					return "", err
				}
				if a.Kind == ripcord.ActionResume {
					_, err = c.ResumePhasedRelease(ctx, versionID())
				} else {
					_, err = c.PausePhasedRelease(ctx, versionID())
				}
				return "", err
			}},
	}
	return p, nil
}

// findVersion returns the App Store version id of the target release.
func findVersion(ctx context.Context, c AppStore, t *target) (string, error) {
	app, err := c.FindApp(ctx, t.app.IOSBundleID)
	if err != nil {
		return "", fmt.Errorf("find %s on App Store Connect: %w", t.app.IOSBundleID, err)
	}
	vs, err := c.ListVersions(ctx, app.ID, appstore.PlatformIOS)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(vs, func(v appstore.Version) bool { return v.VersionString == t.rel.Version })
	if i < 0 {
		return "", ripcord.Errorf(ripcord.ENOTFOUND, "App Store Connect has no version %s of %s, so it has no phased release to act on", t.rel.Version, t.app.IOSBundleID)
	}
	return vs[i].ID, nil
}
