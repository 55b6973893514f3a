package healthwatch

import (
	"context"
	"slices"

	"github.com/ripcordhq/ripcord"
)

// Redecide decides again on an app's releases on a platform without new
// counts, for the given versions' metrics that drive rollouts and have
// data. Pollers call it after every poll, failed or not: verdicts are
// otherwise only made when counts arrive, so a source that stopped
// answering would leave the last (perhaps healthy) verdict standing; this
// way it turns into no-data once the data is stale. Changed verdicts are
// recorded and handed to OnVerdict as on ingest.
func (s *Service) Redecide(ctx context.Context, appName string, platform ripcord.Platform, versions []string) ([]Verdict, error) {
	app, err := s.appFor(ctx, map[string]*ripcord.App{}, appName)
	if err != nil {
		return nil, err
	}
	// Pollers write their counts to the database directly: the ingest
	// pipeline's cached view of the stored counts must be read again.
	s.forgetStored(app.ID, platform)
	spans, err := s.cfg.Store.HealthSpans(ctx, app.ID, platform)
	if err != nil {
		return nil, err
	}
	touched := map[releaseKey]bool{}
	for _, sp := range spans {
		if decided[sp.Metric] && slices.Contains(versions, sp.Version) {
			touched[releaseKey{app.ID, platform, sp.Version, sp.Metric}] = true
		}
	}
	return s.decideTouched(ctx, map[int64]*ripcord.App{app.ID: app}, touched, s.cfg.Now().UTC())
}
