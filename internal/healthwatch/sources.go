package healthwatch

import (
	"context"
	"time"

	"github.com/ripcordhq/ripcord"
)

// PlayCrashUsers is the metric Play's hourly crash rates are filed under
// by the vitals poller: bad = users with a crash in the hour, total = the
// hour's distinct users. It is reported, not decided on: Play's counts
// arrive hours late, are rounded, count only users who share diagnostics,
// and would count users twice next to SDK-reported crash-free users; it is
// the second guardrail (Play's bad-behaviour threshold), not the first
// alarm. Only the poller writes it; the batch API does not take it.
const PlayCrashUsers = "play_crash_users"

// SourceStatus is a health poller's state for the app on one platform, as
// the health report shows it: when data last arrived and whether the
// source is failing, so a reader can tell "no crashes" from "no data".
type SourceStatus struct {
	Source            string     `json:"source"`
	LastSuccessAt     *time.Time `json:"last_success_at,omitempty"`
	DataThrough       *time.Time `json:"data_through,omitempty"`
	ConsecutiveErrors int64      `json:"consecutive_errors"`
	LastError         string     `json:"last_error,omitempty"`
}

// sources reads the pollers' status for an app on a platform.
func (s *Service) sources(ctx context.Context, appID int64, p ripcord.Platform) ([]SourceStatus, error) {
	all, err := s.cfg.Store.PollerStatusList(ctx, appID)
	if err != nil {
		return nil, err
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	var out []SourceStatus
	for _, st := range all {
		if st.Platform == p {
			out = append(out, SourceStatus{Source: st.Source, LastSuccessAt: opt(st.LastSuccessAt), DataThrough: opt(st.DataThrough),
				ConsecutiveErrors: st.ConsecutiveErrors, LastError: st.LastError})
		}
	}
	return out, nil
}
