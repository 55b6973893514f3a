package demo

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/fleet"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// traffic is the demo's simulated users: per platform a fleet of devices
// sending real Sentry envelopes (sessions, crashes reported at next launch,
// SDK retries, skewed clocks) to the server's envelope endpoint with that
// platform's DSN. 1.2.0 reaches devices as its rollout fraction says; a
// crash spike is a second fleet on 1.2.0 whose sessions crash often.
type traffic struct {
	e       *Env
	mu      sync.Mutex
	rollout map[ripcord.Platform]float64 // 1.2.0's share of each platform's devices
	fleets  []*fleet.Fleet
	keys    map[ripcord.Platform]dsn
}

// dsn is what a fleet needs to reach a platform's Sentry project.
type dsn struct{ project, key string }

// Traffic sizes: few devices, so a simulated hour takes well under a
// second (day-scale counts come through the batch API, see report), and a
// spike that crosses the roll-back line within a simulated hour.
const (
	devicesPerPlatform = 100
	spikeDevices       = 60
	spikeCrashRate     = 0.04 // a bad 1.2.0: 96 % crash-free sessions, the roll-back tier
	healthyCrashRate   = 0.0001
)

func newTraffic(ctx context.Context, e *Env, appID int64) (*traffic, error) {
	t := &traffic{e: e, rollout: map[ripcord.Platform]float64{}, keys: map[ripcord.Platform]dsn{}}
	local := ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "local:demo", Role: ripcord.RoleViewer})
	ps, err := e.Daemon.Health.SentryProjects(local, appID)
	if err != nil {
		return nil, fmt.Errorf("demo: Sentry projects: %w", err)
	}
	for _, p := range ps {
		t.keys[p.Platform] = dsn{project: strconv.FormatInt(p.ID, 10), key: p.PublicKey}
	}
	for i, p := range []ripcord.Platform{ripcord.Android, ripcord.IOS} {
		f, err := t.newFleet(p, uint64(i+1), devicesPerPlatform, 3, healthyCrashRate, t.share(p))
		if err != nil {
			return nil, err
		}
		t.fleets = append(t.fleets, f)
	}
	return t, nil
}

// share returns 1.2.0's current rollout fraction on p, as devices see it.
func (t *traffic) share(p ripcord.Platform) func(time.Time) float64 {
	return func(time.Time) float64 {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.rollout[p]
	}
}

// setRollout makes 1.2.0 reach fraction of p's devices from now on.
func (t *traffic) setRollout(p ripcord.Platform, fraction float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollout[p] = fraction
}

// newFleet builds a fleet on platform p: 1.1.0 everywhere, 1.2.0 on the
// share the rollout gives it, with crashRate on 1.2.0.
func (t *traffic) newFleet(p ripcord.Platform, seed uint64, devices int, launches, crashRate float64, rollout func(time.Time) float64) (*fleet.Fleet, error) {
	k, ok := t.keys[p]
	if !ok {
		return nil, fmt.Errorf("demo: the app has no Sentry project on %s", p)
	}
	platform := "cocoa"
	if p == ripcord.Android {
		platform = "java"
	}
	return fleet.New(fleet.Config{
		BaseURL: t.e.Daemon.URL(), ProjectID: k.project, PublicKey: k.key, Now: t.e.Clock.Now, Seed: seed, Devices: devices,
		// Most devices send sessions aggregates (about one envelope per
		// step, as request-mode SDKs do); the rest send each session's
		// updates.
		Platform: platform, LaunchesPerHour: launches, AggregateShare: 0.8, Concurrency: 8,
		Releases: []fleet.Release{
			{Name: fmt.Sprintf("%s@%s+%d", BundleID, liveVersion, liveBuild), CrashRate: healthyCrashRate},
			{Name: fmt.Sprintf("%s@%s+%d", BundleID, targetVersion, targetBuild), CrashRate: crashRate, Rollout: rollout},
		},
	})
}

// spike adds devices on p that run 1.2.0 and crash often.
func (t *traffic) spike(p ripcord.Platform) error {
	f, err := t.newFleet(p, 100+uint64(len(t.fleets)), spikeDevices, 30, spikeCrashRate, fleet.Constant(1))
	if err != nil {
		return err
	}
	t.fleets = append(t.fleets, f)
	return nil
}

// run moves the demo clock forward by d in steps of step, letting every
// fleet send what its devices did in each step. It returns how many
// sessions and crashes the server acknowledged on 1.2.0.
func (t *traffic) run(ctx context.Context, d, step time.Duration) (sessions, crashes int64, err error) {
	for elapsed := time.Duration(0); elapsed < d; elapsed += step {
		if err := t.e.Advance(ctx, step); err != nil {
			return sessions, crashes, err
		}
		for _, f := range t.fleets {
			st, err := f.Step(ctx, step)
			if err != nil {
				return sessions, crashes, err
			}
			rs := st.Releases[fmt.Sprintf("%s@%s+%d", BundleID, targetVersion, targetBuild)]
			sessions, crashes = sessions+rs.SessionsStarted, crashes+rs.Crashed
		}
	}
	return sessions, crashes, nil
}

// report files counts from the team's other crash reporter through the
// batch API (POST /api/v1/health/samples): hours of sessions on a release,
// one sample per hour ending now, with crashes spread over them. The
// simulated fleet alone would take minutes to send a day of traffic.
func (s *Story) report(ctx context.Context, p ripcord.Platform, version string, hours int, perHour, crashes int64) error {
	now := s.env.Clock.Now().UTC().Truncate(time.Minute)
	var req httpapi.HealthSamplesRequest
	for h := hours; h >= 1; h-- {
		bad := int64(0)
		if crashes > 0 && h%max(1, hours/int(crashes)) == 0 {
			bad, crashes = 1, crashes-1
		}
		req.Samples = append(req.Samples, healthwatch.Sample{App: AppName, Platform: p, Version: version, Metric: healthwatch.CrashFreeSessions,
			WindowStart: now.Add(-time.Duration(h) * time.Hour), Bad: bad, Total: perHour})
	}
	return s.api.Do(ctx, "POST", "/api/v1/health/samples", nil, req, nil)
}
