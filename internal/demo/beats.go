package demo

import (
	"context"
	"fmt"
	"time"
)

// beats is the story, in order.
func (s *Story) beats() []beat {
	return []beat{
		{"Rollback build for Android prepared in the background", s.rollbackReady("android", "Google Play's internal track")},
		{"Rollback build for iOS prepared, uploaded and processed", s.rollbackReady("ios", "App Store Connect")},
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
