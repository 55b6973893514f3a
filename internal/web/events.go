package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Live updates. Every state change in Ripcord is audited in the same
// transaction, so the audit log is the one place that hears of all of
// them, from every instance: one poller per process reads the audit head
// (one small query every PollInterval, shared by every open page), lists
// the new entries and hands each to the pages it concerns. The page's
// script then fetches its own HTML again and swaps the live sections: the
// server renders everything, the stream only says "changed".

// notice is one change a page hears of.
type notice struct {
	Seq    int64  `json:"seq"`
	Action string `json:"action"`
	Target string `json:"target"`
}

type subscriber struct {
	match func(target string) bool
	ch    chan notice
}

type hub struct {
	rec      Records
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	last    int64 // newest sequence number handed out
	stop    context.CancelFunc
	stopped chan struct{}
	closed  bool
}

func newHub(rec Records, interval time.Duration, logger *slog.Logger) *hub {
	return &hub{rec: rec, interval: interval, logger: logger, subs: map[*subscriber]struct{}{}}
}

// subscribe adds a page that rendered the state up to sequence since. The
// first subscriber starts the poller; a page already behind the poller is
// told at once so it refreshes.
func (h *hub) subscribe(ctx context.Context, since int64, match func(string) bool) (*subscriber, error) {
	s := &subscriber{match: match, ch: make(chan notice, 16)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ripcord.Errorf(ripcord.EUNAVAILABLE, "the server is shutting down; the page reconnects on its own")
	}
	if h.stop == nil {
		seq, _, err := h.rec.AuditHead(ctx)
		if err != nil {
			return nil, err
		}
		h.last = seq
		pctx, cancel := context.WithCancel(context.Background())
		h.stop, h.stopped = cancel, make(chan struct{})
		go h.poll(pctx, h.stopped)
	}
	h.subs[s] = struct{}{}
	if since < h.last {
		s.ch <- notice{Seq: h.last, Action: "catch_up"}
	}
	return s, nil
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// close stops the poller and refuses new subscribers.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	stop, stopped := h.stop, h.stopped
	h.stop = nil
	for s := range h.subs {
		close(s.ch)
		delete(h.subs, s)
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

func (h *hub) poll(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.pollOnce(ctx); err != nil && ctx.Err() == nil {
			h.logger.WarnContext(ctx, "live updates: read the audit log", slog.String("error", err.Error()))
		}
	}
}

func (h *hub) pollOnce(ctx context.Context) error {
	seq, _, err := h.rec.AuditHead(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	if seq <= last {
		return nil
	}
	entries, err := h.rec.AuditList(ctx, storage.AuditListParams{AfterSeq: last, Limit: 1000})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range entries {
		n := notice{Seq: e.Seq, Action: e.Action, Target: e.Target}
		for s := range h.subs {
			if s.match(e.Target) {
				select {
				case s.ch <- n:
				default: // the page is behind anyway; its next refresh shows everything
				}
			}
		}
		h.last = max(h.last, e.Seq)
	}
	return nil
}

// releaseMatch matches the audit targets of one release: the release, its
// platforms' rollouts and its rollback builds.
func releaseMatch(app, version string) func(string) bool {
	rel := "release/" + app + "/" + version
	rb := "app/" + app + "/rollbacks/"
	return func(t string) bool {
		return t == rel || strings.HasPrefix(t, rel+"/") || (strings.HasPrefix(t, rb) && strings.HasSuffix(t, "/"+version))
	}
}

// head is the audit head a page is rendered at, read before its data so
// that no change slips between the page and its stream.
func (h *handler) head(ctx context.Context) int64 {
	seq, _, err := h.src.Records.AuditHead(ctx)
	if err != nil {
		return 0 // the stream then sends a catch-up refresh at once
	}
	return seq
}

// events streams change notices to a page (server-sent events). The stream
// ends when the session expires, and the browser reconnects on its own
// after a network blip (retry: 1 s).
func (h *handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	match := func(string) bool { return true }
	if app, version := q.Get("app"), q.Get("version"); app != "" || version != "" {
		match = releaseMatch(app, version)
	}
	since, _ := strconv.ParseInt(q.Get("since"), 10, 64)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		since, _ = strconv.ParseInt(id, 10, 64)
	}
	sub, err := h.hub.subscribe(r.Context(), since, match)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	defer h.hub.unsubscribe(sub)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives http.write_timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	_ = rc.Flush()
	expiry := time.NewTimer(time.Until(s.row.ExpiresAt))
	defer expiry.Stop()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-expiry.C:
			fmt.Fprint(w, "event: expired\ndata: {}\n\n")
			_ = rc.Flush()
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case n, ok := <-sub.ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(n)
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: %s\n\n", n.Seq, b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
