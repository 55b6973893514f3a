package healthwatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/health"
	"github.com/ripcordhq/ripcord/internal/sentry"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// How a Sentry envelope becomes counts (IngestEnvelope):
//
//   - Session updates are deduplicated by (project, sid, seq) against a
//     per-session state row (storage.Tx.SentrySessionApply). The first
//     update of a session, init or not, adds 1 to the totals of
//     crash_free_sessions, abnormal_sessions and errored_sessions; the first
//     update reporting crashed, abnormal or errored (errors > 0 or any error
//     status, Sentry's is_error) adds 1 to that metric's bad count, once.
//     Retries (seq not above the stored one) change nothing, and since the
//     state only ever gains flags, a crashed session stays crashed. Counts
//     are filed in the minute the session started, so bad and total of a
//     session share a bucket. An update without a sid cannot be
//     deduplicated: it counts as a new session when it is an init update and
//     is dropped otherwise.
//   - crash_free_users uses exact per-release device sets
//     (storage.Tx.SentryDeviceApply), not sketches: a distinct count does not
//     add across buckets, and a set is exact (no error at all) for the
//     fleet sizes one instance serves, at one small row per device and
//     release. A device's first session on a release adds 1 to the total,
//     its first crash 1 to bad, each in the minute of that session's start,
//     so summing any range of buckets counts each device at most once.
//     Sessions without a distinct id are not in the user counts.
//   - `sessions` aggregate items add their bucket counts directly: total =
//     exited + errored + abnormal + crashed (+ unhandled), bad as above
//     (errored_sessions counts errored, abnormal, crashed and unhandled).
//     Aggregates carry no session ids, so they cannot be deduplicated — as
//     in Sentry, a re-sent aggregate counts twice; SDKs send each once.
//   - Events are deduplicated by event_id. An event tagged flow=<name> and
//     outcome=success|failure adds 1 to flow:<name>'s total, and to bad on
//     failure. Events never feed the crash-free metrics: a crash is counted
//     from its session (Sentry's definition), so a fatal event that travels
//     with its crashed session update is not counted twice. Error and fatal
//     events go to the reported-only fatal_events metric (bad = fatal).
//   - A release maps to an app and version by sentry.ParseRelease
//     (`bundle-id@version+build`). A package other than the app's store id
//     on the project's platform drops the item, with the reason; a release
//     without a package (`version+build`) is taken as the project's app. A
//     version Ripcord has no release for is counted all the same (it shows
//     in the health spans as observed), so adding Ripcord as a second DSN
//     needs no other change. Every environment is counted.
//
// All of an envelope's state changes and counts commit in one transaction;
// then the shared decide step runs on the releases it touched.

// EnvelopeResult reports what one envelope did.
type EnvelopeResult struct {
	// Accepted counts session updates, aggregate buckets and events that
	// were counted.
	Accepted int `json:"accepted"`
	// Duplicates counts session updates and events counted before.
	Duplicates int `json:"duplicates"`
	// Dropped lists items (or buckets) that were not counted, with why.
	Dropped []sentry.ItemError `json:"dropped,omitempty"`
	// Skipped counts items of types Ripcord does not read.
	Skipped int `json:"skipped"`
	// Verdicts are the decisions on the releases the envelope touched.
	Verdicts []Verdict `json:"verdicts"`
}

// SentryProject returns the project a DSN public key belongs to; an
// ENOTFOUND error when no project has it.
func (s *Service) SentryProject(ctx context.Context, publicKey string) (*storage.SentryProject, error) {
	if p, ok := s.memo.project(publicKey); ok && s.pipe != nil {
		return p, nil // every envelope asks; keys never move between projects
	}
	p, err := s.cfg.Store.SentryProjectGetByKey(ctx, publicKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no project has this DSN key")
	}
	if err == nil {
		s.memo.setProject(p)
	}
	return p, err
}

// SentryProjects lists an app's Sentry projects (one per platform); appID 0
// lists every app's. The keys are not secret: they ship inside apps.
func (s *Service) SentryProjects(ctx context.Context, appID int64) ([]storage.SentryProject, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	return s.cfg.Store.SentryProjectList(ctx, appID)
}

type countKey struct {
	version, metric string
	bucket          time.Time
}

// deviceSighting is a device seen on a release, applied to the device set
// after the envelope's sessions.
type deviceSighting struct {
	version, did string
	crashed      bool
	at           time.Time
}

// envelopeBatch accumulates one envelope's counts and device sightings.
type envelopeBatch struct {
	counts  map[countKey]health.Counts
	devices []deviceSighting
}

func (b *envelopeBatch) add(version, metric string, at time.Time, bad, total int64) {
	k := countKey{version, metric, at.UTC().Truncate(time.Minute)}
	c := b.counts[k]
	c.Bad += bad
	c.Total += total
	b.counts[k] = c
}

// IngestEnvelope counts a parsed envelope sent with project's DSN key (the
// key is the authorization: no role is needed), received now, and decides
// on the releases it touched. One bad item never fails the others. With
// the ingest pipeline running (Config.IngestDir), the envelope's effects
// are durable in the log when it returns.
func (s *Service) IngestEnvelope(ctx context.Context, project *storage.SentryProject, env *sentry.Envelope) (*EnvelopeResult, error) {
	now := s.cfg.Now().UTC()
	dec := env.DecodeAt(now)
	app, err := s.appByID(ctx, project.AppID)
	if err != nil {
		return nil, fmt.Errorf("app of sentry project %d: %w", project.ID, err)
	}
	res := &EnvelopeResult{Dropped: dec.Dropped, Skipped: len(dec.Skipped), Verdicts: []Verdict{}}
	m := releaseMapper{storeID: app.StoreID(project.Platform), platform: project.Platform, cache: map[string]mapped{}}
	var b envelopeBatch
	if s.pipe != nil {
		b, err = s.ingestEnvelopePipeline(ctx, app, project, &m, dec, now, res)
	} else {
		err = s.cfg.Store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
			b, err = countEnvelope(ctx, txFacts{tx}, project.ID, &m, dec, now, res)
			if err != nil {
				return err
			}
			return tx.HealthCountsAdd(ctx, b.deltas(app.ID, project.Platform))
		})
	}
	if err != nil {
		return nil, fmt.Errorf("ingest envelope for project %d: %w", project.ID, err)
	}
	touched := map[releaseKey]bool{}
	for k := range b.counts {
		touched[releaseKey{app.ID, project.Platform, k.version, k.metric}] = true
	}
	if res.Verdicts, err = s.decideTouched(ctx, map[int64]*ripcord.App{app.ID: app}, touched, now); err != nil {
		return nil, err
	}
	return res, nil
}

// factStore is where an envelope's facts are deduplicated: the database,
// one statement per fact (txFacts), or the pipeline's memory (memFacts).
type factStore interface {
	session(ctx context.Context, p storage.SentrySessionParams, u sentry.SessionUpdate) (storage.SentrySessionResult, string, error)
	device(ctx context.Context, p storage.SentryDeviceParams) (storage.SentryDeviceResult, error)
	event(ctx context.Context, projectID int64, ev sentry.Event, now time.Time) (bool, error)
}

type txFacts struct{ tx storage.Tx }

func (f txFacts) session(ctx context.Context, p storage.SentrySessionParams, _ sentry.SessionUpdate) (storage.SentrySessionResult, string, error) {
	r, err := f.tx.SentrySessionApply(ctx, p)
	return r, "", err
}

func (f txFacts) device(ctx context.Context, p storage.SentryDeviceParams) (storage.SentryDeviceResult, error) {
	return f.tx.SentryDeviceApply(ctx, p)
}

func (f txFacts) event(ctx context.Context, projectID int64, ev sentry.Event, now time.Time) (bool, error) {
	return f.tx.SentryEventRecord(ctx, projectID, ev.EventID, now)
}

// countEnvelope deduplicates and counts an envelope's items in f. Facts
// are claimed in one order in every call (sessions by sid, then devices,
// then events), so concurrent envelopes on PostgreSQL wait for each other
// but never deadlock. The sort is stable: one session's updates keep their
// order.
func countEnvelope(ctx context.Context, f factStore, projectID int64, m *releaseMapper, dec sentry.Result, now time.Time, res *EnvelopeResult) (envelopeBatch, error) {
	b := envelopeBatch{counts: map[countKey]health.Counts{}}
	res.Accepted, res.Duplicates, res.Dropped = 0, 0, slices.Clone(dec.Dropped)
	drop := func(typ, reason string) {
		res.Dropped = append(res.Dropped, sentry.ItemError{Index: -1, Type: typ, Bucket: -1, Reason: reason})
	}
	// Only the database needs the order (memory has no row locks), and
	// sorting 100 large structs per envelope is not free.
	_, locking := f.(txFacts)
	sessions := dec.Sessions
	if locking {
		sessions = slices.Clone(dec.Sessions)
		slices.SortStableFunc(sessions, func(x, y sentry.SessionUpdate) int { return cmp.Compare(x.SID, y.SID) })
	}
	for _, u := range sessions {
		version, reason := m.version(u.Release)
		if reason != "" {
			drop(sentry.ItemSession, reason)
			continue
		}
		counted, reason, err := countSession(ctx, f, &b, projectID, version, u, now)
		if err != nil {
			return b, err
		}
		switch counted {
		case sessionCounted:
			res.Accepted++
		case sessionDuplicate:
			res.Duplicates++
		case sessionNoSID:
			drop(sentry.ItemSession, "an update without sid that is not the init update cannot be deduplicated")
		case sessionForgotten:
			drop(sentry.ItemSession, reason)
		}
	}
	for _, a := range dec.Aggregates {
		version, reason := m.version(a.Release)
		if reason != "" {
			drop(sentry.ItemSessions, reason)
			continue
		}
		for _, bk := range a.Buckets {
			countBucket(&b, version, bk)
			res.Accepted++
		}
	}
	if locking {
		slices.SortStableFunc(b.devices, func(x, y deviceSighting) int {
			return cmp.Or(cmp.Compare(x.version, y.version), cmp.Compare(x.did, y.did))
		})
	}
	for _, d := range b.devices {
		r, err := f.device(ctx, storage.SentryDeviceParams{ProjectID: projectID, Version: d.version, DID: d.did, Crashed: d.crashed})
		if err != nil {
			return b, err
		}
		countDevice(&b, d.version, d.at, r)
	}
	events := dec.Events
	if locking {
		events = slices.Clone(dec.Events)
		slices.SortStableFunc(events, func(x, y sentry.Event) int { return cmp.Compare(x.EventID, y.EventID) })
	}
	for _, ev := range events {
		version, reason := m.version(ev.Release)
		if reason == "" && ev.EventID == "" {
			reason = "an event without event_id cannot be deduplicated"
		}
		if reason != "" {
			drop(sentry.ItemEvent, reason)
			continue
		}
		first, err := f.event(ctx, projectID, ev, now)
		if err != nil {
			return b, err
		}
		if !first {
			res.Duplicates++
			continue
		}
		countEvent(&b, version, ev)
		res.Accepted++
	}
	return b, nil
}

func (b *envelopeBatch) deltas(appID int64, platform ripcord.Platform) []storage.HealthCountDelta {
	out := make([]storage.HealthCountDelta, 0, len(b.counts))
	for k, c := range b.counts {
		out = append(out, storage.HealthCountDelta{AppID: appID, Platform: platform, Version: k.version, Metric: k.metric, Bucket: k.bucket, Counts: c})
	}
	// A stable order keeps concurrent writers from deadlocking on PostgreSQL.
	slices.SortFunc(out, func(x, y storage.HealthCountDelta) int {
		return cmp.Or(cmp.Compare(x.Version, y.Version), cmp.Compare(x.Metric, y.Metric), x.Bucket.Compare(y.Bucket))
	})
	return out
}

type sessionOutcome int

const (
	sessionCounted sessionOutcome = iota
	sessionDuplicate
	sessionNoSID
	sessionForgotten // its dedupe state may have been evicted; dropped, never counted twice
)

func sessionFlags(u sentry.SessionUpdate) storage.SessionFlags {
	var f storage.SessionFlags
	switch u.Status {
	case sentry.StatusCrashed:
		f |= storage.SessionCrashed
	case sentry.StatusAbnormal:
		f |= storage.SessionAbnormal
	}
	if u.Errored() {
		f |= storage.SessionErrored
	}
	return f
}

func countSession(ctx context.Context, f factStore, b *envelopeBatch, projectID int64, version string, u sentry.SessionUpdate, now time.Time) (sessionOutcome, string, error) {
	flags := sessionFlags(u)
	var r storage.SentrySessionResult
	if u.SID == "" {
		if !u.Init {
			return sessionNoSID, "", nil
		}
		r = storage.SentrySessionResult{New: true, Added: flags}
	} else {
		var err error
		var reason string
		if r, reason, err = f.session(ctx, storage.SentrySessionParams{ProjectID: projectID, SID: u.SID, Seq: u.Seq, Flags: flags, At: now}, u); err != nil {
			return 0, "", err
		}
		if reason != "" {
			return sessionForgotten, reason, nil
		}
		if r.Duplicate {
			return sessionDuplicate, "", nil
		}
	}
	at := u.Started
	if r.New {
		for _, metric := range []string{CrashFreeSessions, AbnormalSessions, ErroredSessions} {
			b.add(version, metric, at, 0, 1)
		}
	}
	if r.Added&storage.SessionCrashed != 0 {
		b.add(version, CrashFreeSessions, at, 1, 0)
	}
	if r.Added&storage.SessionAbnormal != 0 {
		b.add(version, AbnormalSessions, at, 1, 0)
	}
	if r.Added&storage.SessionErrored != 0 {
		b.add(version, ErroredSessions, at, 1, 0)
	}
	if u.DID != "" && (r.New || r.Added&storage.SessionCrashed != 0) {
		b.devices = append(b.devices, deviceSighting{version: version, did: u.DID, crashed: flags&storage.SessionCrashed != 0, at: at})
	}
	return sessionCounted, "", nil
}

func countDevice(b *envelopeBatch, version string, at time.Time, d storage.SentryDeviceResult) {
	if d.New {
		b.add(version, CrashFreeUsers, at, 0, 1)
	}
	if d.FirstCrash {
		b.add(version, CrashFreeUsers, at, 1, 0)
	}
}

func countBucket(b *envelopeBatch, version string, bk sentry.AggregateBucket) {
	total := bk.Total()
	b.add(version, CrashFreeSessions, bk.Started, bk.Crashed, total)
	b.add(version, AbnormalSessions, bk.Started, bk.Abnormal, total)
	b.add(version, ErroredSessions, bk.Started, bk.Errored+bk.Abnormal+bk.Crashed+bk.Unhandled, total)
	if bk.DID != "" && total > 0 {
		b.devices = append(b.devices, deviceSighting{version: version, did: bk.DID, crashed: bk.Crashed > 0, at: bk.Started})
	}
}

func countEvent(b *envelopeBatch, version string, ev sentry.Event) {
	if ev.Level == "error" || ev.Level == "fatal" {
		bad := int64(0)
		if ev.Crash() {
			bad = 1
		}
		b.add(version, FatalEvents, ev.Timestamp, bad, 1)
	}
	flow, outcome := ev.Tags["flow"], ev.Tags["outcome"]
	if flow == "" || !flowNameRe.MatchString(flow) || (outcome != "success" && outcome != "failure") {
		return
	}
	bad := int64(0)
	if outcome == "failure" {
		bad = 1
	}
	b.add(version, flowPrefix+flow, ev.Timestamp, bad, 1)
}

type mapped struct{ version, reason string }

// releaseMapper maps Sentry release names to versions of one app on one
// platform, remembering each name's answer for the envelope.
type releaseMapper struct {
	storeID  string
	platform ripcord.Platform
	cache    map[string]mapped
}

// version returns the release's version, or why it cannot be counted.
func (m *releaseMapper) version(release string) (string, string) {
	if r, ok := m.cache[release]; ok {
		return r.version, r.reason
	}
	var r mapped
	pkg, version, _, ok := sentry.ParseRelease(release)
	switch {
	case !ok:
		r.reason = fmt.Sprintf("release %q is not of the form bundle-id@version+build", release)
	case pkg != "" && pkg != m.storeID:
		r.reason = fmt.Sprintf("release %q names package %q, but this DSN's app is %q on %s", release, pkg, m.storeID, m.platform)
	default:
		if _, err := ripcord.ParseVersion(version); err != nil {
			r.reason = fmt.Sprintf("release %q: %s", release, ripcord.ErrorMessage(err))
		} else {
			r.version = version
		}
	}
	m.cache[release] = r
	return r.version, r.reason
}
