// Package fleet simulates a fleet of mobile devices that report release
// health to a Sentry-compatible endpoint, for the demo, tests and
// benchmarks. It sends real envelopes over HTTP, built the way mobile SDKs
// build them (develop.sentry.dev "Sessions", user mode):
//
//   - one session per app launch: an init update (init=true) at launch and
//     a final exited update at its end;
//   - a crash or abnormal end is only written to disk and reported at the
//     NEXT launch, with the crash event (level fatal, unhandled), as the
//     Apple and React Native SDKs do;
//   - devices in aggregate mode send no updates but a `sessions` item with
//     their ended sessions at each launch, grouped by start minute;
//   - critical flows send one event per attempt tagged flow and outcome;
//   - devices adopt a release when their fixed random draw falls under its
//     rollout fraction at launch time, so cohorts are nested like a staged
//     rollout; they never downgrade;
//   - a few device clocks are hours off (sent_at is stamped at send time,
//     so a Relay-like server corrects them); some SDK retries send an
//     envelope twice (same sid and seq); some bodies are gzipped.
//
// Everything is deterministic for a seed: generation is single-threaded
// with one PCG stream per device, and only sending is concurrent. Stats
// counts exactly what the server acknowledged with a 2xx, so a test server
// that deduplicates session updates by (sid, seq) and events by event_id
// must find the same numbers.
package fleet

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord/internal/sentry"
)

// Release describes one release in the simulated fleet; later entries of
// Config.Releases are newer.
type Release struct {
	// Name is the Sentry release, e.g. "com.acme.app@1.2.0+120".
	Name string
	// Rollout is the fraction of devices eligible at a time, in [0, 1]; a
	// device adopts the newest release it is eligible for at its next
	// launch. Nil means always 1.
	Rollout func(time.Time) float64
	// CrashRate is the probability that a session crashes.
	CrashRate float64
	// AbnormalRate is the probability that a session ends abnormally
	// (force-kill, watchdog); reported at next launch like crashes.
	AbnormalRate float64
	// ErrorRate is the probability that a session records handled errors
	// (no event is sent for them; they raise the session's error count).
	ErrorRate float64
	// FlowFailure is the failure probability of each critical flow.
	FlowFailure map[string]float64
}

// Constant returns a rollout that is always p.
func Constant(p float64) func(time.Time) float64 {
	return func(time.Time) float64 { return p }
}

// Ramp returns a rollout that is from before start, rises linearly to to
// over the given duration, and stays there.
func Ramp(start time.Time, over time.Duration, from, to float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		switch {
		case !t.After(start):
			return from
		case over <= 0 || t.Sub(start) >= over:
			return to
		}
		return from + (to-from)*float64(t.Sub(start))/float64(over)
	}
}

// Config sets up a Fleet; zero fields take the defaults named.
type Config struct {
	// BaseURL is the only server the fleet talks to (http or https, no
	// query); envelopes go to {BaseURL}/api/{ProjectID}/envelope/.
	BaseURL string
	// ProjectID is the DSN project id. Default "1".
	ProjectID string
	// PublicKey is the DSN public key sent in X-Sentry-Auth. Required.
	PublicKey string
	// Client sends the requests. Default: a 10 s timeout and one idle
	// connection per worker.
	// Redirects are never followed, whatever the client says.
	Client *http.Client
	// Now is the simulated clock, advanced by the caller. Required.
	Now func() time.Time
	// Seed makes the run reproducible.
	Seed uint64
	// Devices is the number of devices. Default 100.
	Devices int
	// Releases are oldest first. Required.
	Releases []Release
	// Flows are the critical flows devices may attempt.
	Flows []string
	// FlowAttemptRate is the probability that a session attempts each
	// flow. Default 0.3.
	FlowAttemptRate float64
	// LaunchesPerHour is each device's mean launch rate. Default 2.
	LaunchesPerHour float64
	// SessionLength is the mean foreground session length. Default 5 min.
	SessionLength time.Duration
	// AggregateShare is the fraction of devices that send sessions
	// aggregates instead of session updates. Default 0.2; negative means 0.
	AggregateShare float64
	// DuplicateRate is the probability that an envelope of session updates
	// is sent twice, as an SDK retry. Default 0.02; negative means 0.
	DuplicateRate float64
	// GzipRate is the probability that a body is gzipped. Default 0.3;
	// negative means 0.
	GzipRate float64
	// SkewedShare is the fraction of devices whose clock is whole hours
	// off (1 h to MaxSkew, either sign); the others are within ±2 s.
	// Default 0.1; negative means 0.
	SkewedShare float64
	// MaxSkew bounds the hour-sized skews. Default 3 h; under 1 h means
	// none.
	MaxSkew time.Duration
	// Environment is attrs.environment. Default "production".
	Environment string
	// Platform is the events' platform. Default "cocoa".
	Platform string
	// Concurrency bounds requests in flight. Default 4.
	Concurrency int
	// MaxRequestsPerStep bounds requests per Step; envelopes over it wait
	// for the next Step (Stats.Pending). Default 10,000.
	MaxRequestsPerStep int
	// RetryFailed keeps envelopes no copy of which was acknowledged (a
	// transport error, 429 or 5xx) for the next Step, as SDKs keep them in
	// their offline cache; other 4xx answers are final. Default false: a
	// failed envelope is counted in Stats.Failed and dropped.
	RetryFailed bool
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	c.ProjectID = cmp.Or(c.ProjectID, "1")
	c.Devices = cmp.Or(c.Devices, 100)
	c.FlowAttemptRate = cmp.Or(c.FlowAttemptRate, 0.3)
	c.LaunchesPerHour = cmp.Or(c.LaunchesPerHour, 2)
	c.SessionLength = cmp.Or(c.SessionLength, 5*time.Minute)
	c.AggregateShare = cmp.Or(c.AggregateShare, 0.2)
	c.DuplicateRate = cmp.Or(c.DuplicateRate, 0.02)
	c.GzipRate = cmp.Or(c.GzipRate, 0.3)
	c.SkewedShare = cmp.Or(c.SkewedShare, 0.1)
	c.MaxSkew = cmp.Or(c.MaxSkew, 3*time.Hour)
	c.Environment = cmp.Or(c.Environment, "production")
	c.Platform = cmp.Or(c.Platform, "cocoa")
	c.Concurrency = cmp.Or(c.Concurrency, 4)
	c.MaxRequestsPerStep = cmp.Or(c.MaxRequestsPerStep, 10_000)
	if c.Client == nil {
		// Keep one idle connection per worker: the default of 2 per host
		// would reopen a TCP connection for most requests.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c.Concurrency
		c.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return c
}

func (c Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("fleet: BaseURL %q must be an http(s) URL without query", c.BaseURL)
	}
	if strings.Trim(c.ProjectID, "0123456789") != "" {
		return fmt.Errorf("fleet: ProjectID %q must be decimal", c.ProjectID)
	}
	if c.PublicKey == "" {
		return errors.New("fleet: PublicKey is required")
	}
	if c.Now == nil {
		return errors.New("fleet: Now is required: pass the simulated clock")
	}
	if c.Devices < 1 || c.Devices > 10_000_000 {
		return fmt.Errorf("fleet: Devices %d must be in [1, 10,000,000]", c.Devices)
	}
	if len(c.Releases) == 0 {
		return errors.New("fleet: at least one release is required")
	}
	for _, r := range c.Releases {
		if _, _, _, ok := sentry.ParseRelease(r.Name); !ok {
			return fmt.Errorf("fleet: release %q is not a valid Sentry release name", r.Name)
		}
		for _, p := range []float64{r.CrashRate, r.AbnormalRate, r.ErrorRate} {
			if p < 0 || p > 1 {
				return fmt.Errorf("fleet: release %q: rates must be in [0, 1]", r.Name)
			}
		}
		if r.CrashRate+r.AbnormalRate > 1 {
			return fmt.Errorf("fleet: release %q: CrashRate+AbnormalRate over 1", r.Name)
		}
	}
	if c.LaunchesPerHour <= 0 || c.SessionLength < 0 || c.Concurrency < 1 || c.MaxRequestsPerStep < 1 {
		return errors.New("fleet: LaunchesPerHour must be > 0, SessionLength >= 0, Concurrency and MaxRequestsPerStep >= 1")
	}
	return nil
}

// FlowStats counts flow events by outcome.
type FlowStats struct {
	Success int64 // Success counts outcome=success events.
	Failure int64 // Failure counts outcome=failure events.
}

// ReleaseStats is the ground truth for one release, counting items the
// server acknowledged, each once however many times it was retried.
type ReleaseStats struct {
	// SessionsStarted counts init updates plus sessions in aggregates.
	SessionsStarted int64
	// Exited counts clean ends without errors (updates and aggregates).
	Exited int64
	// Errored counts clean ends with errors > 0 (Sentry's aggregate
	// `errored`: crashed and abnormal excluded).
	Errored int64
	// Crashed counts crashed ends.
	Crashed int64
	// Abnormal counts abnormal ends.
	Abnormal int64
	// CrashEvents counts fatal events (one per crash of an update-mode device).
	CrashEvents int64
	// DuplicateUpdates counts session updates re-sent by retries.
	DuplicateUpdates int64
	// Flows counts flow events per flow.
	Flows map[string]FlowStats
}

func (r *ReleaseStats) add(o ReleaseStats) {
	r.SessionsStarted += o.SessionsStarted
	r.Exited += o.Exited
	r.Errored += o.Errored
	r.Crashed += o.Crashed
	r.Abnormal += o.Abnormal
	r.CrashEvents += o.CrashEvents
	r.DuplicateUpdates += o.DuplicateUpdates
	for f, s := range o.Flows {
		if r.Flows == nil {
			r.Flows = map[string]FlowStats{}
		}
		cur := r.Flows[f]
		cur.Success += s.Success
		cur.Failure += s.Failure
		r.Flows[f] = cur
	}
}

// Stats reports what a Step (or the whole run, see Totals) sent.
type Stats struct {
	Requests   int                     // Requests counts HTTP requests made, retries included.
	Accepted   int                     // Accepted counts 2xx answers.
	Failed     map[int]int             // Failed counts other answers by status; 0 is a transport error.
	Gzipped    int                     // Gzipped counts gzip bodies sent.
	Bytes      int64                   // Bytes counts body bytes sent.
	Duplicates int                     // Duplicates counts retry requests answered 2xx.
	Pending    int                     // Pending counts envelopes left for the next Step.
	Releases   map[string]ReleaseStats // Releases holds the acknowledged items per release.
}

func (s *Stats) add(o Stats) {
	s.Requests += o.Requests
	s.Accepted += o.Accepted
	s.Gzipped += o.Gzipped
	s.Bytes += o.Bytes
	s.Duplicates += o.Duplicates
	s.Pending = o.Pending
	for k, v := range o.Failed {
		if s.Failed == nil {
			s.Failed = map[int]int{}
		}
		s.Failed[k] += v
	}
	for name, rs := range o.Releases {
		s.addRelease(name, rs)
	}
}

func (s *Stats) addRelease(name string, rs ReleaseStats) {
	if s.Releases == nil {
		s.Releases = map[string]ReleaseStats{}
	}
	cur := s.Releases[name]
	cur.add(rs)
	s.Releases[name] = cur
}

// Fleet is a simulated device fleet. It is not safe for concurrent Steps.
type Fleet struct {
	cfg      Config
	endpoint string
	auth     string
	devices  []*device
	last     time.Time // end of the last simulated interval
	outbox   []*envelope
	seq      int // envelope creation order, for deterministic sending order
	totals   Stats
}

// New builds a fleet whose simulated time starts at cfg.Now().
func New(cfg Config) (*Fleet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Copy the client so our redirect policy never changes the caller's.
	client := *cfg.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.Client = &client
	f := &Fleet{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/api/" + cfg.ProjectID + "/envelope/",
		auth:     "Sentry sentry_version=7, sentry_key=" + cfg.PublicKey + ", sentry_client=ripcord-fleet/1.0",
		last:     cfg.Now(),
	}
	f.devices = make([]*device, cfg.Devices)
	for i := range f.devices {
		f.devices[i] = newDevice(f, i)
	}
	return f, nil
}

// Totals returns the cumulative Stats of every Step so far.
func (f *Fleet) Totals() Stats {
	var s Stats
	s.add(f.totals)
	return s
}

// Step simulates what happened since the previous Step (or New) up to
// cfg.Now() — the caller advances its clock by d first — and sends it.
// d must be positive; it documents the interval the caller intends and
// guards against a clock that did not move. It returns what was
// acknowledged; an error only for a cancelled context or a stuck clock.
func (f *Fleet) Step(ctx context.Context, d time.Duration) (Stats, error) {
	if d <= 0 {
		return Stats{}, fmt.Errorf("fleet: step %v must be positive", d)
	}
	end := f.cfg.Now()
	if end.Before(f.last) {
		return Stats{}, fmt.Errorf("fleet: clock went back from %v to %v", f.last, end)
	}
	for _, dev := range f.devices {
		dev.run(end)
	}
	f.last = end
	slices.SortStableFunc(f.outbox, func(a, b *envelope) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.order, b.order))
	})
	stats, err := f.send(ctx)
	f.totals.add(stats)
	return stats, err
}

// envelope is one logical envelope and what it contributes when accepted.
type envelope struct {
	at      time.Time // at is the true time the device queued it
	order   int
	skew    time.Duration
	eventID string
	items   []sentry.OutItem
	body    []byte // body is built at send time, when sent_at is known
	gzip    bool
	dups    int // extra identical sends (SDK retries)
	delta   map[string]ReleaseStats
	// dupUpdates is the number of session updates a retry re-sends.
	dupUpdates int
	release    string
}

func (f *Fleet) enqueue(e *envelope) {
	e.order = f.seq
	f.seq++
	f.outbox = append(f.outbox, e)
}

func (f *Fleet) send(ctx context.Context) (Stats, error) {
	// Take whole envelopes (with their retries) up to the request cap.
	n, reqs := 0, 0
	for n < len(f.outbox) && reqs+1+f.outbox[n].dups <= f.cfg.MaxRequestsPerStep {
		reqs += 1 + f.outbox[n].dups
		n++
	}
	batch := f.outbox[:n]
	sentAt := f.cfg.Now()
	for _, e := range batch {
		e.build(sentAt)
	}
	jobs := make([]struct{ env, copy int }, 0, reqs)
	for i, e := range batch {
		for c := 0; c <= e.dups; c++ {
			jobs = append(jobs, struct{ env, copy int }{i, c})
		}
	}
	status := make([]int, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(f.cfg.Concurrency, len(jobs)) {
		wg.Go(func() {
			for j := range next {
				status[j] = f.post(ctx, batch[jobs[j].env])
			}
		})
	}
feed:
	for j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Stats{}, fmt.Errorf("fleet: step cancelled: %w", err)
	}

	var st Stats
	accepted := make([]int, len(batch))
	for j, jb := range jobs {
		e := batch[jb.env]
		st.Requests++
		st.Bytes += int64(len(e.body))
		if e.gzip {
			st.Gzipped++
		}
		if status[j] >= 200 && status[j] < 300 {
			st.Accepted++
			accepted[jb.env]++
			continue
		}
		if st.Failed == nil {
			st.Failed = map[int]int{}
		}
		st.Failed[status[j]]++
	}
	for i, e := range batch {
		if accepted[i] == 0 {
			continue
		}
		for name, rs := range e.delta {
			st.addRelease(name, rs)
		}
		if extra := accepted[i] - 1; extra > 0 {
			st.Duplicates += extra
			st.addRelease(e.release, ReleaseStats{DuplicateUpdates: int64(extra * e.dupUpdates)})
		}
	}
	var retry []*envelope
	if f.cfg.RetryFailed {
		for i, e := range batch {
			if accepted[i] == 0 && retryable(status, jobs, i) {
				retry = append(retry, e)
			}
		}
	}
	f.outbox = append(retry, f.outbox[n:]...)
	st.Pending = len(f.outbox)
	return st, nil
}

// retryable reports whether envelope env's copies failed in a way an SDK
// retries: no answer, 429 or a server error.
func retryable(status []int, jobs []struct{ env, copy int }, env int) bool {
	for j, jb := range jobs {
		if jb.env == env && (status[j] == 0 || status[j] == http.StatusTooManyRequests || status[j] >= 500) {
			return true
		}
	}
	return false
}

// post sends one copy and returns the status, 0 for a transport error.
func (f *Fleet) post(ctx context.Context, e *envelope) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.endpoint, bytes.NewReader(e.body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("X-Sentry-Auth", f.auth)
	req.Header.Set("User-Agent", "ripcord-fleet/1.0")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// device is one simulated phone.
type device struct {
	f         *Fleet
	idx       int
	rng       *rand.Rand
	did       string
	skew      time.Duration
	draw      float64 // fixed draw against rollout fractions
	aggregate bool
	release   int // index into cfg.Releases, -1 before first launch

	next    time.Time // time of the next launch or session end
	running *session
	pending *session   // crashed or abnormal session awaiting next launch
	ended   []*session // aggregate mode: ended sessions awaiting next launch
}

type session struct {
	sid      string
	release  int
	started  time.Time // true time
	end      time.Time
	outcome  string // exited, crashed, abnormal
	errors   int64
	lastSent time.Time
}

func newDevice(f *Fleet, i int) *device {
	c := f.cfg
	d := &device{f: f, idx: i, rng: rand.New(rand.NewPCG(c.Seed, uint64(i)+1)), release: -1}
	d.did = d.uuid()
	// Phones sync time over the network: most are seconds off. A few have a
	// wrong time zone or manual clock, whole hours off — the case Relay's
	// 55-minute drift correction exists for.
	d.skew = time.Duration((d.rng.Float64()*2 - 1) * float64(2*time.Second))
	if hours := int(c.MaxSkew / time.Hour); hours > 0 && d.rng.Float64() < c.SkewedShare {
		h := time.Duration(1+d.rng.IntN(hours)) * time.Hour
		if d.rng.IntN(2) == 0 {
			h = -h
		}
		d.skew += h
	}
	d.draw = d.rng.Float64()
	d.aggregate = c.AggregateShare > 0 && d.rng.Float64() < c.AggregateShare
	d.next = f.last.Add(d.idle())
	return d
}

// idle draws the time to the next launch.
func (d *device) idle() time.Duration {
	return time.Duration(d.rng.ExpFloat64() / d.f.cfg.LaunchesPerHour * float64(time.Hour))
}

func (d *device) uuid() string {
	var b [16]byte
	for i := range 2 {
		v := d.rng.Uint64()
		for j := range 8 {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// clock is the device's skewed view of true time t.
func (d *device) clock(t time.Time) time.Time { return t.Add(d.skew) }

// run processes the device's events before end, in time order.
func (d *device) run(end time.Time) {
	for d.next.Before(end) {
		if d.running != nil {
			d.endSession(d.next)
			d.next = d.next.Add(d.idle())
			continue
		}
		d.launch(d.next)
	}
}

func (d *device) launch(t time.Time) {
	c := d.f.cfg
	// Report what the previous run could not: a crash or abnormal end.
	if d.pending != nil {
		d.reportPending(t)
		d.pending = nil
	}
	if len(d.ended) > 0 {
		d.flushAggregates(t)
	}
	// Adopt the newest release this device is eligible for; never downgrade.
	for i := len(c.Releases) - 1; i > d.release; i-- {
		r := c.Releases[i]
		if r.Rollout == nil || d.draw < r.Rollout(t) {
			d.release = i
			break
		}
	}
	if d.release < 0 {
		d.next = t.Add(d.idle())
		return
	}
	rel := c.Releases[d.release]
	length := time.Duration(d.rng.ExpFloat64() * float64(c.SessionLength))
	length = max(length, time.Second)
	s := &session{sid: d.uuid(), release: d.release, started: t, end: t.Add(length)}
	switch u := d.rng.Float64(); {
	case u < rel.CrashRate:
		s.outcome = sentry.StatusCrashed
	case u < rel.CrashRate+rel.AbnormalRate:
		s.outcome = sentry.StatusAbnormal
	default:
		s.outcome = sentry.StatusExited
	}
	if d.rng.Float64() < rel.ErrorRate {
		s.errors = 1 + int64(d.rng.IntN(3))
	}
	d.running = s
	d.next = s.end
	if !d.aggregate {
		d.sendUpdate(t, s, true, sentry.StatusOK, ReleaseStats{SessionsStarted: 1})
	}
	for _, flow := range c.Flows {
		if d.rng.Float64() >= c.FlowAttemptRate {
			continue
		}
		at := t.Add(time.Duration(d.rng.Float64() * float64(length)))
		failed := d.rng.Float64() < rel.FlowFailure[flow]
		if failed {
			s.errors++ // an error-level event raises the session's count
		}
		d.sendFlowEvent(at, s, flow, failed)
	}
}

func (d *device) endSession(t time.Time) {
	s := d.running
	d.running = nil
	switch {
	case s.outcome != sentry.StatusExited:
		d.pending = s // written to disk; reported at next launch
	case d.aggregate:
		d.ended = append(d.ended, s)
	default:
		rs := ReleaseStats{Exited: 1}
		if s.errors > 0 {
			rs = ReleaseStats{Errored: 1}
		}
		d.sendUpdate(t, s, false, sentry.StatusExited, rs)
	}
}

func (d *device) reportPending(t time.Time) {
	s := d.pending
	if d.aggregate {
		d.ended = append(d.ended, s)
		return
	}
	rs := ReleaseStats{Abnormal: 1}
	if s.outcome == sentry.StatusCrashed {
		rs = ReleaseStats{Crashed: 1, CrashEvents: 1}
		s.errors = max(s.errors, 1)
	}
	// The session update carries the crash time; it is sent now, at launch.
	items := []sentry.OutItem{d.updateItem(s, false, s.outcome, s.end)}
	if s.outcome == sentry.StatusCrashed {
		items = append(items, d.eventItem(s, s.end, "fatal", nil, true))
	}
	d.enqueue(t, s, items, rs, 1)
}

func (d *device) sendUpdate(t time.Time, s *session, init bool, status string, rs ReleaseStats) {
	d.enqueue(t, s, []sentry.OutItem{d.updateItem(s, init, status, t)}, rs, 1)
}

func (d *device) sendFlowEvent(t time.Time, s *session, flow string, failed bool) {
	outcome, level := "success", "info"
	if failed {
		outcome, level = "failure", "error"
	}
	rs := ReleaseStats{Flows: map[string]FlowStats{}}
	if failed {
		rs.Flows[flow] = FlowStats{Failure: 1}
	} else {
		rs.Flows[flow] = FlowStats{Success: 1}
	}
	item := d.eventItem(s, t, level, [][2]string{{"flow", flow}, {"outcome", outcome}}, false)
	d.enqueue(t, s, []sentry.OutItem{item}, rs, 0)
}

// flushAggregates sends ended sessions as sessions items, one per release.
func (d *device) flushAggregates(t time.Time) {
	c := d.f.cfg
	byRelease := map[int][]*session{}
	for _, s := range d.ended {
		byRelease[s.release] = append(byRelease[s.release], s)
	}
	d.ended = nil
	for _, ri := range slices.Sorted(maps.Keys(byRelease)) {
		type key struct{ minute time.Time }
		buckets := map[key]*wireBucket{}
		var keys []key
		rs := ReleaseStats{}
		for _, s := range byRelease[ri] {
			k := key{d.clock(s.started).Truncate(time.Minute)}
			b := buckets[k]
			if b == nil {
				b = &wireBucket{Started: stamp(k.minute), DID: d.did}
				buckets[k] = b
				keys = append(keys, k)
			}
			rs.SessionsStarted++
			switch {
			case s.outcome == sentry.StatusCrashed:
				b.Crashed++
				rs.Crashed++
			case s.outcome == sentry.StatusAbnormal:
				b.Abnormal++
				rs.Abnormal++
			case s.errors > 0:
				b.Errored++
				rs.Errored++
			default:
				b.Exited++
				rs.Exited++
			}
		}
		// Never more than 100 buckets per item: a device launches a few
		// times per hour, far below that; split defensively anyway.
		for chunk := range slices.Chunk(keys, sentry.DefaultMaxAggregateBuckets) {
			agg := wireAggregates{Attrs: wireAttrs{Release: c.Releases[ri].Name, Environment: c.Environment}}
			for _, k := range chunk {
				agg.Aggregates = append(agg.Aggregates, *buckets[k])
			}
			payload, _ := json.Marshal(agg)
			part := rs
			if len(keys) > sentry.DefaultMaxAggregateBuckets {
				part = chunkStats(agg.Aggregates)
			}
			d.enqueueRaw(t, c.Releases[ri].Name, []sentry.OutItem{{Type: sentry.ItemSessions, Payload: payload, ImplicitSize: true}}, map[string]ReleaseStats{c.Releases[ri].Name: part}, 0, false)
		}
	}
}

func chunkStats(bs []wireBucket) ReleaseStats {
	var rs ReleaseStats
	for _, b := range bs {
		rs.SessionsStarted += b.Exited + b.Errored + b.Crashed + b.Abnormal
		rs.Exited += b.Exited
		rs.Errored += b.Errored
		rs.Crashed += b.Crashed
		rs.Abnormal += b.Abnormal
	}
	return rs
}

// enqueue wraps items in an envelope from this device; updates > 0 marks an
// envelope of session updates, which SDK retries may send twice.
func (d *device) enqueue(t time.Time, s *session, items []sentry.OutItem, rs ReleaseStats, updates int) {
	name := d.f.cfg.Releases[s.release].Name
	d.enqueueRaw(t, name, items, map[string]ReleaseStats{name: rs}, updates, updates > 0)
}

func (d *device) enqueueRaw(t time.Time, release string, items []sentry.OutItem, delta map[string]ReleaseStats, updates int, retryable bool) {
	c := d.f.cfg
	e := &envelope{at: t, skew: d.skew, items: items, delta: delta, release: release, dupUpdates: updates}
	for _, it := range items {
		if it.Type == sentry.ItemEvent {
			var ev struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(it.Payload, &ev)
			e.eventID = ev.EventID
		}
	}
	e.gzip = c.GzipRate > 0 && d.rng.Float64() < c.GzipRate
	if retryable && c.DuplicateRate > 0 && d.rng.Float64() < c.DuplicateRate {
		e.dups = 1
	}
	d.f.enqueue(e)
}

// build serializes the envelope with sent_at stamped by the device clock at
// the moment of sending, as the envelope spec requires; a Relay-like
// server then corrects hour-sized skews exactly.
func (e *envelope) build(sentAt time.Time) {
	hdr := map[string]any{
		"sent_at": stamp(sentAt.Add(e.skew)),
		"sdk":     map[string]string{"name": "ripcord.fleet", "version": "1.0.0"},
	}
	if e.eventID != "" {
		hdr["event_id"] = e.eventID
	}
	var buf bytes.Buffer
	// Cannot fail: header and items are built here, without newlines in implicit payloads.
	_ = sentry.WriteEnvelope(&buf, hdr, e.items...)
	e.body = buf.Bytes()
	if e.gzip {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // header ModTime stays zero: deterministic bytes
		_, _ = zw.Write(e.body)
		_ = zw.Close()
		e.body = z.Bytes()
	}
}

// Wire shapes, as the SDKs send them (develop.sentry.dev Sessions).
type wireAttrs struct {
	Release     string `json:"release"`
	Environment string `json:"environment,omitempty"`
}

type wireSession struct {
	SID       string    `json:"sid"`
	DID       string    `json:"did"`
	Seq       int64     `json:"seq"`
	Init      bool      `json:"init,omitempty"`
	Started   string    `json:"started"`
	Timestamp string    `json:"timestamp"`
	Status    string    `json:"status"`
	Errors    int64     `json:"errors"`
	Duration  *float64  `json:"duration,omitempty"`
	Attrs     wireAttrs `json:"attrs"`
}

type wireBucket struct {
	Started  string `json:"started"`
	DID      string `json:"did,omitempty"`
	Exited   int64  `json:"exited,omitempty"`
	Errored  int64  `json:"errored,omitempty"`
	Abnormal int64  `json:"abnormal,omitempty"`
	Crashed  int64  `json:"crashed,omitempty"`
}

type wireAggregates struct {
	Aggregates []wireBucket `json:"aggregates"`
	Attrs      wireAttrs    `json:"attrs"`
}

type wireEvent struct {
	EventID     string       `json:"event_id"`
	Timestamp   float64      `json:"timestamp"`
	Level       string       `json:"level"`
	Platform    string       `json:"platform"`
	Release     string       `json:"release"`
	Environment string       `json:"environment"`
	Tags        [][2]string  `json:"tags,omitempty"`
	Exception   *wireExcList `json:"exception,omitempty"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
}

type wireExcList struct {
	Values []wireException `json:"values"`
}

type wireException struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Mechanism struct {
		Type    string `json:"type"`
		Handled bool   `json:"handled"`
	} `json:"mechanism"`
}

// updateItem builds a session update made at true time at. Seq is the
// device clock in ms, as sentry-java does; init updates are normalized to
// 0 by the server anyway.
func (d *device) updateItem(s *session, init bool, status string, at time.Time) sentry.OutItem {
	ts := d.clock(at)
	if !ts.After(s.lastSent) {
		ts = s.lastSent.Add(time.Millisecond) // keep seq strictly increasing
	}
	s.lastSent = ts
	w := wireSession{
		SID: s.sid, DID: d.did, Seq: ts.UnixMilli(), Init: init,
		Started: stamp(d.clock(s.started)), Timestamp: stamp(ts),
		Status: status, Errors: s.errors,
		Attrs: wireAttrs{Release: d.f.cfg.Releases[s.release].Name, Environment: d.f.cfg.Environment},
	}
	if status != sentry.StatusOK {
		dur := math.Round(at.Sub(s.started).Seconds()*1000) / 1000
		w.Duration = &dur
	}
	payload, _ := json.Marshal(w)
	// Sessions omit "length", as the SDKs do to compress better.
	return sentry.OutItem{Type: sentry.ItemSession, Payload: payload, ImplicitSize: true}
}

func (d *device) eventItem(s *session, at time.Time, level string, tags [][2]string, crash bool) sentry.OutItem {
	c := d.f.cfg
	ts := d.clock(at)
	w := wireEvent{
		EventID:   strings.ReplaceAll(d.uuid(), "-", ""),
		Timestamp: float64(ts.UnixMilli()) / 1000,
		Level:     level, Platform: c.Platform,
		Release: c.Releases[s.release].Name, Environment: c.Environment,
		Tags: tags,
	}
	w.User.ID = d.did
	if crash {
		ex := wireException{Type: "EXC_BAD_ACCESS", Value: "simulated crash"}
		ex.Mechanism.Type, ex.Mechanism.Handled = "mach", false
		w.Exception = &wireExcList{Values: []wireException{ex}}
	}
	payload, _ := json.Marshal(w)
	return sentry.OutItem{Type: sentry.ItemEvent, Payload: payload}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
