package demo

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// Story plays the demo against a running Env: each beat acts the way a
// release manager or the stores would, through Ripcord's API and the fake
// stores, then waits (moving the demo clock) until Ripcord did its part.
type Story struct {
	env    *Env
	seeded *Seeded
	api    *apiclient.Client
	user   *apiclient.Client // acting as UserEmail
	out    io.Writer
	// pace is the real pause between beats, so a person can follow along;
	// 0 plays as fast as the server answers (--scripted).
	pace  time.Duration
	began time.Time // wall clock at the first beat
	day0  time.Time // demo clock at the first beat
	fleet *traffic  // the simulated users, from the baseline beat on
}

// NewStory prepares the story on a seeded, running environment.
func NewStory(e *Env, s *Seeded, out io.Writer, pace time.Duration) (*Story, error) {
	api, err := apiclient.New(e.Daemon.URL(), s.AdminToken)
	if err != nil {
		return nil, err
	}
	user, err := apiclient.New(e.Daemon.URL(), s.UserToken)
	if err != nil {
		return nil, err
	}
	return &Story{env: e, seeded: s, api: api, user: user, out: out, pace: pace}, nil
}

// beat is one step of the story: what it shows, and what makes it happen.
type beat struct {
	title string
	run   func(ctx context.Context) (string, error)
}

// Play runs every beat in order, printing each with its real and demo
// time, and stops at the first that fails, saying which.
func (s *Story) Play(ctx context.Context) error {
	s.began, s.day0 = time.Now(), s.env.Clock.Now()
	for i, b := range s.beats() {
		if i > 0 && s.pace > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.pace):
			}
		}
		detail, err := b.run(ctx)
		if err != nil {
			s.printf("FAILED  %s: %v", b.title, err)
			return fmt.Errorf("demo step %d (%s): %w", i+1, b.title, err)
		}
		s.printf("%-7s %s", "ok", b.title)
		if detail != "" {
			s.printf("        %s", detail)
		}
	}
	return nil
}

// printf prints one line with the real time since the story began and the
// demo clock as "day N hh:mm".
func (s *Story) printf(format string, args ...any) {
	now := s.env.Clock.Now()
	day := int(now.Sub(s.day0).Hours()/24) + 1
	fmt.Fprintf(s.out, "[%6.2fs | day %d %s] %s\n", time.Since(s.began).Seconds(), day, now.UTC().Format("15:04"), fmt.Sprintf(format, args...))
}

// waitFor polls check until it holds, moving the demo clock by step before
// each poll (store review, processing and rollout stages take store time),
// for at most timeout of real time. check returns a description of the
// state it found, used in the error when the wait runs out.
func (s *Story) waitFor(ctx context.Context, what string, step, timeout time.Duration, check func(ctx context.Context) (bool, string, error)) (string, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state, err := check(ctx)
		if err != nil {
			return "", err
		}
		if ok {
			return state, nil
		}
		last = state
		if time.Now().After(deadline) {
			return "", fmt.Errorf("waited %s for %s; last seen: %s", timeout, what, last)
		}
		if step > 0 {
			if err := s.env.Advance(ctx, step); err != nil {
				return "", err
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// get reads a path of the API into out.
func (s *Story) get(ctx context.Context, path string, q url.Values, out any) error {
	return s.api.Do(ctx, "GET", path, q, nil, out)
}

// release reads the target release.
func (s *Story) release(ctx context.Context) (*httpapi.Release, error) {
	var r httpapi.Release
	err := s.get(ctx, "/api/v1/apps/"+AppName+"/releases/"+targetVersion, nil, &r)
	return &r, err
}

// platformStatus returns the target's status on a platform.
func (s *Story) platformStatus(ctx context.Context, platform string) (string, error) {
	r, err := s.release(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range r.Platforms {
		if p.Platform == platform {
			return p.Status, nil
		}
	}
	return "", fmt.Errorf("release %s has no %s", targetVersion, platform)
}

// rollbackBuild reads the target's rollback build on a platform.
func (s *Story) rollbackBuild(ctx context.Context, platform string) (*httpapi.RollbackBuild, error) {
	var rb httpapi.RollbackBuild
	err := s.get(ctx, "/api/v1/apps/"+AppName+"/releases/"+targetVersion+"/rollback-build", url.Values{"platform": {platform}}, &rb)
	return &rb, err
}
