package healthwatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Start opens the ingest pipeline when Config.IngestDir is set: it loads
// the session snapshot, replays the log (writing to the database what a
// crash kept from it) and starts flushing. Call it once before serving;
// without IngestDir it does nothing.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.IngestDir == "" || s.pipe != nil {
		return nil
	}
	p, err := openPipeline(ctx, &s.cfg)
	if err != nil {
		return fmt.Errorf("start health ingest: %w", err)
	}
	s.pipe = p
	return nil
}

// Close flushes what is pending, snapshots the session state and closes
// the log. Ingest calls must have stopped.
func (s *Service) Close(ctx context.Context) error {
	if s.pipe == nil {
		return nil
	}
	err := s.pipe.close(ctx)
	s.pipe = nil
	return err
}

// Flush writes pending counts to the database now, for tools and tests
// that read the tables directly; decisions and reports never need it.
func (s *Service) Flush(ctx context.Context) error {
	if s.pipe == nil {
		return nil
	}
	return s.pipe.flush(ctx)
}

// addCounts stores a batch of counts: through the pipeline's log when it
// runs (durable on return, written at the next flush), else directly.
func (s *Service) addCounts(ctx context.Context, deltas []storage.HealthCountDelta) error {
	if s.pipe == nil {
		return s.cfg.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.HealthCountsAdd(ctx, deltas) })
	}
	e := &effects{at: s.cfg.Now()}
	for _, d := range deltas {
		e.add(bucketKey{d.AppID, d.Platform, d.Version, d.Metric, d.Bucket.Unix()}, d.Counts.Bad, d.Counts.Total)
	}
	p := s.pipe
	p.mu.Lock()
	pos, err := p.commit(e)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return p.log.Sync(ctx, pos)
}

func (s *Service) healthSpans(ctx context.Context, appID int64, platform ripcord.Platform) ([]storage.HealthSpan, error) {
	if s.pipe != nil {
		return s.pipe.spansOf(ctx, appID, platform)
	}
	return s.cfg.Store.HealthSpans(ctx, appID, platform)
}

// Sum adds up a release's counts of a metric over buckets in [From, To)
// (a zero To means no upper bound), stored and not yet flushed alike.
// Readers of counts other than this service (runbook triggers) use it, so
// they see an envelope's counts as soon as it is acknowledged.
func (s *Service) Sum(ctx context.Context, q storage.HealthSumParams) (health.Counts, error) {
	return s.healthSum(ctx, q)
}

// forgetStored drops the pipeline's cached stored counts of an app on a
// platform, after someone else (a poller) wrote to them.
func (s *Service) forgetStored(appID int64, platform ripcord.Platform) {
	if p := s.pipe; p != nil {
		p.mu.Lock()
		delete(p.spans, appPlatform{appID, platform})
		clear(p.sums)
		p.mu.Unlock()
	}
}

func (s *Service) healthSum(ctx context.Context, q storage.HealthSumParams) (health.Counts, error) {
	if s.pipe != nil {
		return s.pipe.sum(ctx, q)
	}
	return s.cfg.Store.HealthSum(ctx, q)
}

// lastDecision is the newest recorded decision of a release's metric
// (storage.ErrNotFound when none), remembered for cacheTTL so deciding on
// every envelope does not read it back each time.
func (s *Service) lastDecision(ctx context.Context, k releaseKey) (*storage.HealthDecision, error) {
	if d, ok := s.memo.decision(k); ok {
		return d, nil
	}
	last, err := s.cfg.Store.HealthDecisionLatest(ctx, k.appID, k.platform, k.version, k.metric)
	if err != nil {
		return nil, err
	}
	s.memo.setDecision(k, last)
	return last, nil
}

// appByID returns an app, remembered for cacheTTL while the pipeline
// runs (every envelope needs its app).
func (s *Service) appByID(ctx context.Context, id int64) (*ripcord.App, error) {
	if s.pipe == nil {
		return s.cfg.Store.AppGetByID(ctx, id)
	}
	if a, ok := s.memo.app(id); ok {
		return a, nil
	}
	a, err := s.cfg.Store.AppGetByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.memo.setApp(a)
	return a, nil
}

// memo remembers slowly changing lookups for cacheTTL.
type memo struct {
	mu       sync.Mutex
	outcomes map[releaseKey]memoEntry[*storage.HealthDecision]
	apps     map[int64]memoEntry[*ripcord.App]
	projects map[string]memoEntry[*storage.SentryProject]
}

type memoEntry[T any] struct {
	v  T
	at time.Time
}

func newMemo() *memo {
	return &memo{outcomes: map[releaseKey]memoEntry[*storage.HealthDecision]{}, apps: map[int64]memoEntry[*ripcord.App]{},
		projects: map[string]memoEntry[*storage.SentryProject]{}}
}

func memoGet[K comparable, T any](mu *sync.Mutex, m map[K]memoEntry[T], k K) (T, bool) {
	mu.Lock()
	defer mu.Unlock()
	e, ok := m[k]
	if !ok || time.Since(e.at) > cacheTTL {
		var zero T
		return zero, false
	}
	return e.v, true
}

func memoSet[K comparable, T any](mu *sync.Mutex, m map[K]memoEntry[T], k K, v T) {
	mu.Lock()
	defer mu.Unlock()
	m[k] = memoEntry[T]{v, time.Now()}
}

func (m *memo) decision(k releaseKey) (*storage.HealthDecision, bool) {
	return memoGet(&m.mu, m.outcomes, k)
}
func (m *memo) setDecision(k releaseKey, d *storage.HealthDecision) { memoSet(&m.mu, m.outcomes, k, d) }
func (m *memo) app(id int64) (*ripcord.App, bool)                   { return memoGet(&m.mu, m.apps, id) }
func (m *memo) setApp(a *ripcord.App)                               { memoSet(&m.mu, m.apps, a.ID, a) }
func (m *memo) project(key string) (*storage.SentryProject, bool) {
	return memoGet(&m.mu, m.projects, key)
}
func (m *memo) setProject(p *storage.SentryProject) { memoSet(&m.mu, m.projects, p.PublicKey, p) }

// errNoDeviceSet would mean a bug: device sets are loaded before the
// locked apply step that uses them.
var errNoDeviceSet = errors.New("healthwatch: device set used before it was loaded")
