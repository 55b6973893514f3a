package healthwatch

import (
	"context"
	"fmt"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// ingestEnvelopePipeline counts an envelope in the pipeline's memory and
// returns once its effects are durable in the log. Reads the database
// needs (a release's device set on its first sighting since start, event
// ids that may be older than memory) happen before the locked step.
func (s *Service) ingestEnvelopePipeline(ctx context.Context, app *ripcord.App, project *storage.SentryProject, m *releaseMapper,
	dec sentry.Result, now time.Time, res *EnvelopeResult) (envelopeBatch, error) {
	p := s.pipe
	if err := p.loadDevices(ctx, deviceSetsOf(project.ID, m, dec)); err != nil {
		return envelopeBatch{}, err
	}
	for {
		p.mu.Lock()
		epoch := p.epoch
		var ask []string
		for _, ev := range dec.Events {
			if ev.EventID != "" && !p.events.has(eventKey{project.ID, ev.EventID}) && ev.Timestamp.Before(p.events.memorySince.Add(eventMemoryMargin)) {
				ask = append(ask, ev.EventID)
			}
		}
		p.mu.Unlock()
		inDB := map[string]bool{}
		if len(ask) > 0 {
			seen, err := p.store.SentryEventsSeen(ctx, project.ID, ask)
			if err != nil {
				return envelopeBatch{}, err
			}
			for _, id := range seen {
				inDB[id] = true
			}
		}

		p.mu.Lock()
		if p.epoch != epoch {
			p.mu.Unlock()
			continue // event memory moved on meanwhile: look again
		}
		f := &memFacts{p: p, e: &effects{at: now, sessions: make([]sessionEffect, 0, len(dec.Sessions))}, inDB: inDB}
		b, err := countEnvelope(ctx, f, project.ID, m, dec, now, res)
		if err != nil {
			p.mu.Unlock()
			return b, err
		}
		for k, c := range b.counts {
			f.e.add(bucketKey{app.ID, project.Platform, k.version, k.metric, k.bucket.Unix()}, c.Bad, c.Total)
		}
		p.sessions.rotate(now, s.cfg.MaxEndedSessions, s.cfg.EndedGrace)
		before := p.events.curSince
		p.events.rotate(now, p.flushedAt, s.cfg.MaxEvents, s.cfg.EndedGrace)
		if p.events.curSince != before {
			p.epoch++
		}
		pos, err := p.commit(f.e)
		p.mu.Unlock()
		if err != nil {
			return b, err
		}
		return b, p.log.Sync(ctx, pos)
	}
}

// deviceSetsOf lists the release device sets an envelope may touch.
func deviceSetsOf(projectID int64, m *releaseMapper, dec sentry.Result) []deviceSetKey {
	seen := map[string]bool{}
	var keys []deviceSetKey
	add := func(release string) {
		if v, reason := m.version(release); reason == "" && !seen[v] {
			seen[v] = true
			keys = append(keys, deviceSetKey{projectID, v})
		}
	}
	for _, u := range dec.Sessions {
		if u.DID != "" {
			add(u.Release)
		}
	}
	for _, a := range dec.Aggregates {
		for _, bk := range a.Buckets {
			if bk.DID != "" {
				add(a.Release)
				break
			}
		}
	}
	return keys
}

// memFacts deduplicates against the pipeline's memory (mu held) and
// records each change in e for the log.
type memFacts struct {
	p    *pipeline
	e    *effects
	inDB map[string]bool // event ids found in the database
}

func (f *memFacts) session(_ context.Context, q storage.SentrySessionParams, u sentry.SessionUpdate) (storage.SentrySessionResult, string, error) {
	sid, ok := parseSID(q.SID)
	if !ok {
		return storage.SentrySessionResult{}, fmt.Sprintf("sid %q is not a UUID", q.SID), nil
	}
	k := sessionKey{q.ProjectID, sid}
	r, st, forgotten := f.p.sessions.apply(k, sessionState{seq: q.Seq, started: u.Started.Unix(), flags: q.Flags, ended: u.Terminal()})
	if forgotten {
		return r, fmt.Sprintf("session %s started at %s, not after %s, the start of the latest session whose dedupe state this server evicted: a retry cannot be told from a first report, so it is not counted",
			q.SID, u.Started.UTC().Format(time.RFC3339), time.Unix(f.p.sessions.horizon, 0).UTC().Format(time.RFC3339)), nil
	}
	if !r.Duplicate {
		f.e.sessions = append(f.e.sessions, sessionEffect{k, st})
	}
	return r, "", nil
}

func (f *memFacts) device(_ context.Context, q storage.SentryDeviceParams) (storage.SentryDeviceResult, error) {
	set := f.p.devices[deviceSetKey{q.ProjectID, q.Version}]
	if set == nil {
		return storage.SentryDeviceResult{}, errNoDeviceSet
	}
	h := f.p.hasher.sum(q.DID)
	crashed, ok := set[h]
	var r storage.SentryDeviceResult
	switch {
	case !ok:
		r = storage.SentryDeviceResult{New: true, FirstCrash: q.Crashed}
	case q.Crashed && !crashed:
		r = storage.SentryDeviceResult{FirstCrash: true}
	default:
		return r, nil
	}
	q.Crashed = q.Crashed || crashed
	set[h] = q.Crashed
	f.e.devices = append(f.e.devices, q)
	f.p.markDevice(q)
	return r, nil
}

func (f *memFacts) event(_ context.Context, projectID int64, ev sentry.Event, now time.Time) (bool, error) {
	k := eventKey{projectID, ev.EventID}
	if f.p.events.has(k) || f.inDB[ev.EventID] {
		return false, nil
	}
	f.p.events.add(k)
	f.e.events = append(f.e.events, k)
	f.p.dirtyEvents = append(f.p.dirtyEvents, storage.SentryEventParams{ProjectID: projectID, EventID: ev.EventID, At: now})
	return true, nil
}
