package healthwatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/ingestlog"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// The ingest pipeline (Config.IngestDir set) takes session updates at
// hundreds of thousands per second on one instance without one SQL
// statement per fact, and never loses what it acknowledged:
//
//  1. An ingest call deduplicates against in-memory state (ingest_state.go)
//     and, under one lock, applies its effects to memory, adds its counts
//     to the pending per-minute counts, and appends the effects to the log
//     (internal/ingestlog) — so the log's order is the order of the
//     changes. It then waits for the log to be fsynced up to its record:
//     concurrent calls share one fsync (group commit). Only then does the
//     server reply 2xx. A duplicate that saw another call's effect waits
//     for that call's record too (it is before its own in the log).
//  2. Every FlushInterval the pending counts, new devices and event ids go
//     to the database in one transaction that also records the log
//     position they cover (ingest_positions). Counts are additive upserts;
//     the position makes a replay add each record once.
//  3. Every CheckpointInterval the session dedupe state is snapshotted
//     (ingest_snapshot.go), the log is rotated, and segments before both
//     the snapshot and the database position are deleted.
//  4. At start the snapshot is loaded and the log replayed from the older
//     of the two positions: records after the snapshot restore session
//     states, records after the database position add their counts,
//     devices and events again. A crash between reply and flush therefore
//     loses nothing and counts nothing twice.
//
// Decisions still run on every ingest call, from the stored counts (cached
// per app and platform, updated at each flush) plus the pending ones.

// pipelineName keys the position in ingest_positions.
const pipelineName = "sentry"

// cacheTTL bounds how long stored counts read for decisions are trusted
// before they are read again, for writers this instance does not see
// (another instance on the same PostgreSQL).
const cacheTTL = 10 * time.Second

// eventMemoryMargin is how far an event's timestamp can be after its
// arrival (Relay corrects clock drift over 55 minutes; a minute of future
// is allowed): an unknown event stamped at least this long after memory
// began cannot have arrived before it.
const eventMemoryMargin = time.Hour

type appPlatform struct {
	appID    int64
	platform ripcord.Platform
}

type spanKey struct{ version, metric string }

type spanEntry struct {
	loaded time.Time
	spans  map[spanKey]storage.HealthSpan
}

type sumKey struct {
	appID           int64
	platform        ripcord.Platform
	version, metric string
	from, to        int64
}

type deviceRowKey struct {
	project      int64
	version, did string
}

type pipeline struct {
	cfg    *Config
	store  storage.Store
	log    *ingestlog.Log
	logger *slog.Logger
	hasher didHasher

	// mu guards the state, the pending counts and the caches, and orders
	// log appends with the changes they record.
	mu           sync.Mutex
	sessions     *sessionTable
	devices      map[deviceSetKey]deviceSet
	events       *eventTable
	epoch        int64 // bumped when event memory rotates
	pending      map[bucketKey]health.Counts
	flushing     map[bucketKey]health.Counts // taken by the running flush, not yet committed
	dirtyDevices map[deviceRowKey]bool
	dirtyEvents  []storage.SentryEventParams
	spans        map[appPlatform]*spanEntry
	sums         map[sumKey]health.Counts
	flushedAt    time.Time // when (Config.Now) the last successful flush took its data
	recordBuf    []byte

	// flushMu runs one flush, checkpoint or consistent read at a time.
	flushMu    sync.Mutex
	flushedPos int64
	snapPos    int64

	// loadMu makes concurrent first sightings of a release load its
	// device set once.
	loadMu sync.Mutex

	stop chan struct{}
	done chan struct{}
}

// openPipeline loads the snapshot, replays the log and writes what the
// database lacks, then starts the background flusher.
func openPipeline(ctx context.Context, cfg *Config) (*pipeline, error) {
	if err := os.MkdirAll(cfg.IngestDir, 0o750); err != nil {
		return nil, fmt.Errorf("ingest directory: %w", err)
	}
	now := cfg.Now()
	p := &pipeline{cfg: cfg, store: cfg.Store, logger: cfg.Logger, hasher: newDIDHasher(),
		sessions: newSessionTable(now), devices: map[deviceSetKey]deviceSet{}, events: newEventTable(now),
		pending: map[bucketKey]health.Counts{}, dirtyDevices: map[deviceRowKey]bool{},
		spans: map[appPlatform]*spanEntry{}, sums: map[sumKey]health.Counts{}, stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if p.snapPos, err = readSnapshot(cfg.IngestDir, p.sessions); err != nil {
		return nil, err
	}
	if p.flushedPos, err = cfg.Store.IngestPosition(ctx, pipelineName); err != nil {
		return nil, err
	}
	if p.log, err = ingestlog.Open(cfg.IngestDir, cfg.Logger); err != nil {
		return nil, err
	}
	if end := p.log.End(); end < p.flushedPos {
		// The log directory is newer than the database's position (it was
		// wiped or moved): continue numbering after the position, or a
		// later replay would skip new records as already written.
		p.logger.WarnContext(ctx, "ingest log ends before the position the database has written; continuing the log from that position",
			slog.String("dir", cfg.IngestDir), slog.Int64("log_end", end), slog.Int64("database_position", p.flushedPos))
		if err := p.log.SkipTo(ctx, p.flushedPos); err != nil {
			p.log.Close()
			return nil, err
		}
	}
	start := time.Now()
	replayed := 0
	err = p.log.Replay(min(p.snapPos, p.flushedPos), func(pos int64, rec []byte) error {
		e, err := decodeEffects(rec)
		if err != nil {
			return fmt.Errorf("ingest log record ending at %d: %w", pos, err)
		}
		replayed++
		return p.replay(ctx, pos, e)
	})
	if err != nil {
		p.log.Close()
		return nil, fmt.Errorf("replay the ingest log in %s: %w", cfg.IngestDir, err)
	}
	p.logger.InfoContext(ctx, "ingest log replayed", slog.Int("records", replayed), slog.Int64("snapshot_position", p.snapPos),
		slog.Int64("database_position", p.flushedPos), slog.Int("open_sessions", len(p.sessions.open)),
		slog.Int("ended_sessions", len(p.sessions.ended)+len(p.sessions.endedOld)), slog.Duration("took", time.Since(start)))
	if err := p.flush(ctx); err != nil {
		p.log.Close()
		return nil, err
	}
	go p.loop()
	return p, nil
}

// replay re-applies one logged record at start.
func (p *pipeline) replay(ctx context.Context, pos int64, e *effects) error {
	for _, s := range e.sessions {
		p.sessions.restore(s.key, s.st)
	}
	if pos <= p.flushedPos {
		return nil // counts, devices and events are in the database
	}
	for _, d := range e.devices {
		if err := p.ensureDevices(ctx, deviceSetKey{d.ProjectID, d.Version}); err != nil {
			return err
		}
		p.devices[deviceSetKey{d.ProjectID, d.Version}][p.hasher.sum(d.DID)] = d.Crashed
		p.markDevice(d)
	}
	for _, ev := range e.events {
		p.events.add(ev)
		p.dirtyEvents = append(p.dirtyEvents, storage.SentryEventParams{ProjectID: ev.project, EventID: ev.id, At: e.at})
	}
	for k, c := range e.counts {
		addCounts(p.pending, k, c)
	}
	return nil
}

func addCounts(m map[bucketKey]health.Counts, k bucketKey, c health.Counts) {
	cur := m[k]
	cur.Bad += c.Bad
	cur.Total += c.Total
	m[k] = cur
}

func (p *pipeline) markDevice(d storage.SentryDeviceParams) {
	k := deviceRowKey{d.ProjectID, d.Version, d.DID}
	p.dirtyDevices[k] = p.dirtyDevices[k] || d.Crashed
}

// ensureDevices loads a release's device set from the database when this
// process has not yet (its first sighting since start). Callers outside
// replay must not hold mu.
func (p *pipeline) ensureDevices(ctx context.Context, k deviceSetKey) error {
	if _, ok := p.devices[k]; ok {
		return nil
	}
	rows, err := p.store.SentryDeviceList(ctx, k.project, k.version)
	if err != nil {
		return err
	}
	set := make(deviceSet, len(rows))
	for _, r := range rows {
		set[p.hasher.sum(r.DID)] = r.Crashed
	}
	p.devices[k] = set
	return nil
}

// loadDevices is ensureDevices for ingest calls: the database read runs
// without mu; a set loaded meanwhile by another call wins.
func (p *pipeline) loadDevices(ctx context.Context, keys []deviceSetKey) error {
	p.mu.Lock()
	var missing []deviceSetKey
	for _, k := range keys {
		if _, ok := p.devices[k]; !ok {
			missing = append(missing, k)
		}
	}
	p.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	for _, k := range missing {
		p.mu.Lock()
		_, ok := p.devices[k]
		p.mu.Unlock()
		if ok {
			continue
		}
		// No flush can have written this set's devices: nothing in memory
		// refers to it yet, so the database is the whole set.
		rows, err := p.store.SentryDeviceList(ctx, k.project, k.version)
		if err != nil {
			return err
		}
		set := make(deviceSet, len(rows))
		for _, r := range rows {
			set[p.hasher.sum(r.DID)] = r.Crashed
		}
		p.mu.Lock()
		p.devices[k] = set
		p.mu.Unlock()
	}
	return nil
}

// commit logs e and adds its counts to pending; called with mu held. It
// returns the position to wait for: the log's end, which covers every
// change this call saw (including other calls' not yet synced ones).
func (p *pipeline) commit(e *effects) (int64, error) {
	if !e.empty() {
		p.recordBuf = e.encode(p.recordBuf[:0])
		if _, err := p.log.Append(p.recordBuf); err != nil {
			return 0, err
		}
		for k, c := range e.counts {
			addCounts(p.pending, k, c)
		}
	}
	return p.log.End(), nil
}

// loop flushes and checkpoints until stopped.
func (p *pipeline) loop() {
	defer close(p.done)
	flush := time.NewTicker(p.cfg.FlushInterval)
	defer flush.Stop()
	checkpoint := time.NewTicker(p.cfg.CheckpointInterval)
	defer checkpoint.Stop()
	ctx := context.Background()
	for {
		select {
		case <-p.stop:
			return
		case <-flush.C:
			if err := p.flush(ctx); err != nil {
				p.logger.ErrorContext(ctx, "ingest flush failed; counts stay pending and are retried", slog.Any("error", err))
			}
		case <-checkpoint.C:
			if err := p.checkpoint(ctx); err != nil {
				p.logger.ErrorContext(ctx, "ingest checkpoint failed; the log is kept", slog.Any("error", err))
			}
		}
	}
}

// flush writes pending counts, devices and events with the log position
// they cover, in one transaction.
func (p *pipeline) flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	counts, devices, events := p.pending, p.dirtyDevices, p.dirtyEvents
	pos := p.log.End()
	taken := p.cfg.Now()
	if pos == p.flushedPos && len(counts) == 0 && len(devices) == 0 && len(events) == 0 {
		p.flushedAt = taken
		p.mu.Unlock()
		return nil
	}
	p.pending, p.flushing, p.dirtyDevices, p.dirtyEvents = map[bucketKey]health.Counts{}, counts, map[deviceRowKey]bool{}, nil
	p.mu.Unlock()

	// Nothing unsynced may reach the database: a crash would then lose the
	// record but keep its counts, and the client's retry would add them again.
	err := p.log.Sync(ctx, pos)
	if err == nil {
		err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			if err := tx.HealthCountsAdd(ctx, deltasOf(counts)); err != nil {
				return err
			}
			if err := tx.SentryDevicesPut(ctx, deviceRows(devices)); err != nil {
				return err
			}
			if err := tx.SentryEventsPut(ctx, events); err != nil {
				return err
			}
			return tx.IngestPositionSet(ctx, pipelineName, pos)
		})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushing = nil
	if err != nil {
		for k, c := range counts {
			addCounts(p.pending, k, c)
		}
		for k, crashed := range devices {
			p.dirtyDevices[k] = p.dirtyDevices[k] || crashed
		}
		p.dirtyEvents = append(events, p.dirtyEvents...)
		return fmt.Errorf("flush ingest counts up to log position %d: %w", pos, err)
	}
	for k, c := range counts {
		if e := p.spans[appPlatform{k.appID, k.platform}]; e != nil {
			addSpan(e.spans, k, c)
		}
	}
	clear(p.sums)
	p.flushedPos, p.flushedAt = pos, taken
	return nil
}

func deltasOf(counts map[bucketKey]health.Counts) []storage.HealthCountDelta {
	out := make([]storage.HealthCountDelta, 0, len(counts))
	for k, c := range counts {
		out = append(out, storage.HealthCountDelta{AppID: k.appID, Platform: k.platform, Version: k.version, Metric: k.metric,
			Bucket: time.Unix(k.bucket, 0).UTC(), Counts: c})
	}
	// A stable order keeps concurrent writers from deadlocking on PostgreSQL.
	slices.SortFunc(out, func(x, y storage.HealthCountDelta) int {
		return cmp.Or(cmp.Compare(x.AppID, y.AppID), cmp.Compare(x.Platform, y.Platform), cmp.Compare(x.Version, y.Version),
			cmp.Compare(x.Metric, y.Metric), x.Bucket.Compare(y.Bucket))
	})
	return out
}

func deviceRows(m map[deviceRowKey]bool) []storage.SentryDeviceParams {
	out := make([]storage.SentryDeviceParams, 0, len(m))
	for k, crashed := range m {
		out = append(out, storage.SentryDeviceParams{ProjectID: k.project, Version: k.version, DID: k.did, Crashed: crashed})
	}
	slices.SortFunc(out, func(x, y storage.SentryDeviceParams) int {
		return cmp.Or(cmp.Compare(x.ProjectID, y.ProjectID), cmp.Compare(x.Version, y.Version), cmp.Compare(x.DID, y.DID))
	})
	return out
}

func addSpan(m map[spanKey]storage.HealthSpan, k bucketKey, c health.Counts) {
	sk := spanKey{k.version, k.metric}
	sp, ok := m[sk]
	at := time.Unix(k.bucket, 0).UTC()
	if !ok {
		sp = storage.HealthSpan{Version: k.version, Metric: k.metric, First: at, Last: at}
	}
	sp.Counts.Bad += c.Bad
	sp.Counts.Total += c.Total
	if at.Before(sp.First) {
		sp.First = at
	}
	if at.After(sp.Last) {
		sp.Last = at
	}
	m[sk] = sp
}

// checkpoint snapshots the session state, expires old state and removes
// log segments nothing needs any more.
func (p *pipeline) checkpoint(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	now := p.cfg.Now()
	p.mu.Lock()
	if n := p.sessions.expireOpen(now.Add(-p.cfg.SessionRetention).Unix(), p.cfg.MaxOpenSessions); n > 0 {
		p.logger.WarnContext(ctx, "ingest evicted open sessions (older than the retention, or over the limit); later updates of them are dropped, not counted twice",
			slog.Int("evicted", n), slog.Int("max_open_sessions", p.cfg.MaxOpenSessions))
	}
	pos := p.log.End()
	tables := []map[sessionKey]sessionState{p.sessions.open, p.sessions.ended, p.sessions.endedOld}
	p.mu.Unlock()

	w, err := createSnapshot(p.cfg.IngestDir, pos)
	if err != nil {
		return err
	}
	// Iterate under mu, letting ingest in every few thousand entries: Go
	// maps may be changed between the steps of a range loop (entries added
	// meanwhile may or may not be seen — they are in the log after pos).
	for _, m := range tables {
		n := 0
		p.mu.Lock()
		for k, st := range m {
			if err = w.add(k, st); err != nil {
				break
			}
			if n++; n%4096 == 0 {
				p.mu.Unlock()
				p.mu.Lock()
			}
		}
		p.mu.Unlock()
		if err != nil {
			w.abort()
			return err
		}
	}
	p.mu.Lock()
	horizon := p.sessions.horizon
	p.mu.Unlock()
	if err := w.commit(p.cfg.IngestDir, horizon); err != nil {
		return err
	}
	p.snapPos = pos
	if _, err := p.log.Rotate(ctx); err != nil {
		return err
	}
	if _, err := p.log.RemoveBefore(min(p.snapPos, p.flushedPos)); err != nil {
		return err
	}
	return nil
}

// close stops the flusher, flushes, checkpoints and closes the log.
func (p *pipeline) close(ctx context.Context) error {
	close(p.stop)
	<-p.done
	err := p.flush(ctx)
	if err == nil {
		err = p.checkpoint(ctx)
	}
	return errors.Join(err, p.log.Close())
}

// crash stops the pipeline as a crash would, after the last reply and
// before any further flush: what is not synced is lost, nothing is
// flushed. For crash tests.
func (p *pipeline) crash() {
	close(p.stop)
	<-p.done
	p.log.Abandon()
}

// spansOf returns an app's spans on a platform: the stored counts (cached)
// plus the pending ones.
func (p *pipeline) spansOf(ctx context.Context, appID int64, platform ripcord.Platform) ([]storage.HealthSpan, error) {
	key := appPlatform{appID, platform}
	p.mu.Lock()
	e := p.spans[key]
	if e == nil || time.Since(e.loaded) > cacheTTL {
		p.mu.Unlock()
		// Read under flushMu: no flush commits meanwhile, so the stored
		// counts plus what is pending now are exactly everything.
		p.flushMu.Lock()
		stored, err := p.store.HealthSpans(ctx, appID, platform)
		if err != nil {
			p.flushMu.Unlock()
			return nil, err
		}
		e = &spanEntry{loaded: time.Now(), spans: make(map[spanKey]storage.HealthSpan, len(stored))}
		for _, sp := range stored {
			e.spans[spanKey{sp.Version, sp.Metric}] = sp
		}
		p.mu.Lock()
		p.spans[key] = e
		p.flushMu.Unlock()
	}
	out := make(map[spanKey]storage.HealthSpan, len(e.spans)+4)
	for k, sp := range e.spans {
		out[k] = sp
	}
	for _, m := range []map[bucketKey]health.Counts{p.pending, p.flushing} {
		for k, c := range m {
			if k.appID == appID && k.platform == platform {
				addSpan(out, k, c)
			}
		}
	}
	p.mu.Unlock()
	spans := make([]storage.HealthSpan, 0, len(out))
	for _, sp := range out {
		spans = append(spans, sp)
	}
	slices.SortFunc(spans, func(a, b storage.HealthSpan) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.Metric, b.Metric))
	})
	return spans, nil
}

// sum adds up a release's counts over a range: stored (cached until the
// next flush) plus pending.
func (p *pipeline) sum(ctx context.Context, q storage.HealthSumParams) (health.Counts, error) {
	to := q.To
	if !to.IsZero() && !to.Equal(to.Truncate(time.Minute)) {
		// Buckets are whole minutes: "before to" is "before the next minute".
		to = to.Truncate(time.Minute).Add(time.Minute)
	}
	key := sumKey{q.AppID, q.Platform, q.Version, q.Metric, q.From.Unix(), to.Unix()}
	if to.IsZero() {
		key.to = 0
	}
	p.mu.Lock()
	c, ok := p.sums[key]
	if !ok {
		p.mu.Unlock()
		p.flushMu.Lock()
		q.To = to
		stored, err := p.store.HealthSum(ctx, q)
		if err != nil {
			p.flushMu.Unlock()
			return c, err
		}
		p.mu.Lock()
		p.sums[key], c = stored, stored
		p.flushMu.Unlock()
	}
	from := q.From.Unix()
	for _, m := range []map[bucketKey]health.Counts{p.pending, p.flushing} {
		for k, d := range m {
			if k.appID == q.AppID && k.platform == q.Platform && k.version == q.Version && k.metric == q.Metric &&
				k.bucket >= from && (to.IsZero() || k.bucket < to.Unix()) {
				c.Bad += d.Bad
				c.Total += d.Total
			}
		}
	}
	p.mu.Unlock()
	return c, nil
}
