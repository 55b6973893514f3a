package fakestore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

type family int

const (
	famGoogle family = iota
	famASC
)

// handlerFunc serves one store operation with s.mu held. body is the whole
// request body, read before the lock. It returns the status and value to
// encode, or a *googleError / *ascError.
type handlerFunc func(r *http.Request, body []byte) (int, any, error)

type route struct {
	op      string
	fam     family
	scope   string // OAuth scope for Google routes
	mutates bool
	// public routes skip authentication, as Apple's presigned upload URLs do.
	public bool
	fn     handlerFunc
	// spool, when set instead of fn, receives the body as a file in the
	// upload directory rather than in memory.
	spool spoolFunc
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	g := func(pattern, op string, mutates bool, fn handlerFunc) {
		mux.Handle(pattern, s.wrap(route{op: op, fam: famGoogle, scope: ScopeAndroidPublisher, mutates: mutates, fn: fn}))
	}
	a := func(pattern, op string, mutates bool, fn handlerFunc) {
		mux.Handle(pattern, s.wrap(route{op: op, fam: famASC, mutates: mutates, fn: fn}))
	}

	mux.HandleFunc("POST /token", s.handleToken)

	// Google Play Developer API (androidpublisher v3). Go's patterns cannot
	// split "{editId}:commit", so custom verbs are dispatched in playEditPost.
	const ap = "/androidpublisher/v3/applications/{pkg}"
	g("POST "+ap+"/edits", "androidpublisher.edits.insert", true, s.playEditsInsert)
	g("GET "+ap+"/edits/{edit}", "androidpublisher.edits.get", false, s.playEditsGet)
	g("DELETE "+ap+"/edits/{edit}", "androidpublisher.edits.delete", true, s.playEditsDelete)
	mux.Handle("POST "+ap+"/edits/{editverb}", http.HandlerFunc(s.playEditPost))
	g("GET "+ap+"/edits/{edit}/tracks", "androidpublisher.edits.tracks.list", false, s.playTracksList)
	g("GET "+ap+"/edits/{edit}/tracks/{track}", "androidpublisher.edits.tracks.get", false, s.playTracksGet)
	g("PUT "+ap+"/edits/{edit}/tracks/{track}", "androidpublisher.edits.tracks.update", true, s.playTracksUpdate)
	g("PATCH "+ap+"/edits/{edit}/tracks/{track}", "androidpublisher.edits.tracks.patch", true, s.playTracksUpdate)
	g("GET "+ap+"/edits/{edit}/bundles", "androidpublisher.edits.bundles.list", false, s.playBundlesList)
	g("GET "+ap+"/edits/{edit}/apks", "androidpublisher.edits.apks.list", false, s.playApksList)
	// Media uploads: simple (media, multipart) and resumable initiation on
	// the method's upload path; requests carrying upload_id are chunks of a
	// resumable session (see play_resumable.go).
	for _, kind := range []struct{ ext, res string }{{"aab", "bundles"}, {"apk", "apks"}} {
		op := "androidpublisher.edits." + kind.res + ".upload"
		h := s.playUploadHandler(op, kind.ext)
		mux.Handle("POST /upload"+ap+"/edits/{edit}/"+kind.res, h)
		mux.Handle("PUT /upload"+ap+"/edits/{edit}/"+kind.res, h)
		mux.Handle("POST /resumable/upload"+ap+"/edits/{edit}/"+kind.res, h)
	}
	g("GET "+ap+"/tracks/{track}/releases", "androidpublisher.applications.tracks.releases.list", false, s.playReleasesList)

	// Play Developer Reporting API (v1beta1).
	mux.Handle("GET /v1beta1/apps/{pkg}/{metricset}", http.HandlerFunc(s.reportingGetHTTP))
	mux.Handle("POST /v1beta1/apps/{pkg}/{metricsetverb}", http.HandlerFunc(s.reportingPost))

	// App Store Connect API.
	s.ascRoutes(a)
	mux.Handle("PUT "+ascUploadPath+"{file}/{part}", s.wrap(route{op: "asc.buildUploadParts.put", fam: famASC, mutates: true, public: true, spool: s.ascUploadPartPut}))

	// Admin API.
	s.adminRoutes(mux)
	return mux
}

// playEditPost dispatches POST …/edits/{id}:verb.
func (s *Server) playEditPost(w http.ResponseWriter, r *http.Request) {
	id, verb, _ := cutLast(r.PathValue("editverb"), ":")
	r.SetPathValue("edit", id)
	switch verb {
	case "commit":
		s.wrap(route{op: "androidpublisher.edits.commit", fam: famGoogle, scope: ScopeAndroidPublisher, mutates: true, fn: s.playEditsCommit}).ServeHTTP(w, r)
	case "validate":
		s.wrap(route{op: "androidpublisher.edits.validate", fam: famGoogle, scope: ScopeAndroidPublisher, fn: s.playEditsValidate}).ServeHTTP(w, r)
	default:
		writeJSON(w, 404, gNotFound("notFound", "Method not found.").body())
	}
}

func (s *Server) reportingPost(w http.ResponseWriter, r *http.Request) {
	set, verb, _ := cutLast(r.PathValue("metricsetverb"), ":")
	if verb != "query" {
		writeJSON(w, 404, gNotFound("notFound", "Method not found.").body())
		return
	}
	r.SetPathValue("metricset", set)
	s.wrap(route{op: "playdeveloperreporting.vitals." + metricSets[set].id + ".query", fam: famGoogle, scope: ScopeReporting, fn: s.reportingQuery}).ServeHTTP(w, r)
}

func (s *Server) reportingGetHTTP(w http.ResponseWriter, r *http.Request) {
	op := "playdeveloperreporting.vitals." + metricSets[r.PathValue("metricset")].id + ".get"
	s.wrap(route{op: op, fam: famGoogle, scope: ScopeReporting, fn: s.reportingGet}).ServeHTTP(w, r)
}

func cutLast(s, sep string) (before, after string, found bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// wrap runs one operation: body read, auth, faults, the handler under the
// lock, persistence, and the response in the family's envelope.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var body []byte
		var spooled *spooledBody
		var err error
		if rt.spool != nil {
			spooled, err = s.spool(w, r, s.cfg.MaxUploadBytes)
			if spooled != nil {
				defer func() {
					if spooled.Path != "" {
						_ = os.Remove(spooled.Path)
					}
				}()
			}
		} else {
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes))
		}
		if err != nil {
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				s.writeError(w, r, rt.fam, gBadRequest("badRequest", "Request body too large."))
			case ctx.Err() == nil && rt.spool != nil:
				s.writeError(w, r, rt.fam, err) // the upload directory failed
			}
			return // otherwise the client went away
		}
		if rt.fam == famASC {
			w.Header().Set("X-Rate-Limit", "user-hour-lim:3600;user-hour-rem:3599;")
		}

		s.mu.Lock()
		s.tickLocked()
		var authErr error
		if rt.public {
			// presigned: the URL itself is the credential
		} else if rt.fam == famASC {
			if e := s.checkASCAuth(r); e != nil {
				authErr = e
			}
		} else if e := s.checkGoogleAuth(r, rt.scope); e != nil {
			authErr = e
		}
		var fault *Fault
		if authErr == nil {
			fault = s.takeFaultLocked(rt.op)
			if fault != nil {
				if err := s.persistLocked(); err != nil {
					s.log.ErrorContext(ctx, "fakestore persist failed", slog.Any("err", err))
				}
			}
		}
		s.mu.Unlock()
		if authErr != nil {
			s.writeError(w, r, rt.fam, authErr)
			return
		}

		if fault != nil {
			s.log.InfoContext(ctx, "fakestore fault injected", slog.String("op", rt.op), slog.String("kind", fault.Kind), slog.Int("status", fault.Status))
			switch fault.Kind {
			case FaultLatency:
				if !sleepCtx(ctx, time.Duration(fault.Latency)) {
					return
				}
			case FaultStatus:
				if fault.RetryAfterSeconds > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfterSeconds))
				}
				s.writeError(w, r, rt.fam, faultError(rt.fam, fault.Status))
				return
			case FaultTimeout:
				d := time.Duration(fault.Latency)
				if d <= 0 {
					d = 30 * time.Second
				}
				if sleepCtx(ctx, d) {
					s.writeError(w, r, rt.fam, faultError(rt.fam, http.StatusGatewayTimeout))
				}
				return
			}
		}

		s.mu.Lock()
		s.tickLocked()
		var status int
		var v any
		if rt.spool != nil {
			status, v, err = rt.spool(r, spooled)
		} else {
			status, v, err = rt.fn(r, body)
		}
		if err == nil && rt.mutates {
			if perr := s.persistLocked(); perr != nil {
				err = perr
			}
		}
		s.mu.Unlock()

		if fault != nil && fault.Kind == FaultLostResponse {
			dropConnection(w)
			return
		}
		if err != nil {
			s.writeError(w, r, rt.fam, err)
			return
		}
		if hr, ok := v.(*headedResponse); ok {
			for k, vs := range hr.header {
				w.Header()[k] = vs
			}
			v = hr.body
		}
		writeJSON(w, status, v)
	})
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the client's connection without a response; when
// the connection cannot be hijacked (HTTP/2) it aborts the handler, which
// resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
