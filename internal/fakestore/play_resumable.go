package fakestore

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Resumable uploads (uploadType=resumable), as Google's upload protocol
// works for androidpublisher media methods and as google.golang.org/api
// drives it for files over googleapi.DefaultUploadChunkSize (16 MiB):
//
//  1. POST …/bundles?uploadType=resumable (empty body) opens a session and
//     answers 200 with its URI in Location (…&upload_id=ID).
//  2. Each chunk goes to that URI (POST or PUT) with Content-Range
//     "bytes FIRST-LAST/TOTAL" (TOTAL "*" until the last chunk). An
//     incomplete upload answers 308 Resume Incomplete with Range
//     "bytes=0-N" (no Range before the first byte), or, when the request
//     says X-GUploader-No-308: yes, 200 with X-HTTP-Status-Code-Override:
//     308 (what the Go client sends). The last byte answers 200 with the
//     resource, or the upload's error.
//  3. "Content-Range: bytes */TOTAL" (or "bytes */*") with an empty body
//     asks for the progress; once complete it repeats the final answer.
//
// A chunk must start at or before the bytes received so far: the part the
// session already has is skipped (a retried chunk is harmless); a chunk
// that leaves a gap is refused with 400. Sessions expire after
// Config.UploadSessionLifetime (410 afterwards; unknown ids 404). Chunks are
// streamed to a file in the upload directory, never held in memory or
// written into state.json.

// Play upload session states.
const (
	sessionActive  = "active"
	sessionDone    = "done"
	sessionFailed  = "failed"
	sessionExpired = "expired"
)

// playUploadSession is one resumable upload: where its bytes are, how far
// it got, and its final answer once ended.
type playUploadSession struct {
	ID       string    `json:"id"`
	Package  string    `json:"package"`
	Edit     string    `json:"edit"`
	Kind     string    `json:"kind"` // apk or aab
	Owner    string    `json:"owner"`
	Total    int64     `json:"total"` // -1 until known
	Received int64     `json:"received"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	State    string    `json:"state"`
	// Blob names the file in the upload directory holding the bytes
	// received so far; removed once the session ends.
	Blob string `json:"blob,omitempty"`
	// Artifact is the uploaded artifact of a done session.
	Artifact *playArtifact `json:"artifact,omitempty"`
	// Error is the final answer of a failed session.
	Error *sessionError `json:"error,omitempty"`
}

// sessionError is the Google error a failed session keeps answering with.
type sessionError struct {
	Code    int    `json:"code"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *sessionError) googleError() *googleError {
	return &googleError{Code: e.Code, Status: e.Status, Reason: e.Reason, Message: e.Message}
}

// playUploadHandler serves a media method's upload path: requests carrying
// upload_id are chunks of a resumable session (fault op "<op>.chunk"),
// the rest simple uploads or session starts (fault op op).
func (s *Server) playUploadHandler(op, kind string) http.Handler {
	start := s.wrap(route{op: op, fam: famGoogle, scope: ScopeAndroidPublisher, mutates: true, fn: s.playUpload(kind)})
	chunk := s.wrap(route{op: op + ".chunk", fam: famGoogle, scope: ScopeAndroidPublisher, mutates: true, spool: s.playUploadChunk(kind)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("upload_id") {
			chunk.ServeHTTP(w, r)
			return
		}
		start.ServeHTTP(w, r)
	})
}

// playResumableStart opens a resumable session in the edit.
func (s *Server) playResumableStart(r *http.Request, app *playApp, e *playEdit, kind string) (int, any, error) {
	total := int64(-1)
	if v := r.Header.Get("X-Upload-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, nil, gBadRequest("badRequest", "Invalid X-Upload-Content-Length header: "+strconv.Quote(v)+".")
		}
		total = n
	}
	if total > s.cfg.MaxUploadBytes {
		return 0, nil, gBadRequest("badRequest", "Media larger than the maximum upload size of "+strconv.FormatInt(s.cfg.MaxUploadBytes, 10)+" bytes.")
	}
	now := s.nowLocked()
	id := randomHex(16)
	sess := &playUploadSession{ID: id, Package: app.PackageName, Edit: e.ID, Kind: kind, Owner: e.Owner, Total: total,
		Created: now, Expires: now.Add(s.cfg.UploadSessionLifetime), State: sessionActive, Blob: "play-" + id + ".part"}
	s.st.PlayUploads[id] = sess
	q := url.Values{"uploadType": {"resumable"}, "upload_id": {id}}
	loc := s.cfg.BaseURL + strings.TrimPrefix(r.URL.Path, "/resumable") + "?" + q.Encode()
	h := http.Header{}
	h.Set("Location", loc)
	h.Set("X-GUploader-UploadID", id)
	s.event("androidpublisher.edits."+resourceOfKind(kind)+".upload.start", app.PackageName+"/edits/"+e.ID+"/uploads/"+id)
	return http.StatusOK, &headedResponse{header: h}, nil
}

func resourceOfKind(kind string) string {
	if kind == "aab" {
		return "bundles"
	}
	return "apks"
}

// contentRange is a parsed Content-Range request header.
type contentRange struct {
	first, last int64 // -1, -1 for "*"
	total       int64 // -1 for "*"
}

func parseContentRange(v string, size int64) (contentRange, bool) {
	if v == "" {
		// No header: the body is the whole file.
		if size == 0 {
			return contentRange{first: -1, last: -1, total: 0}, true
		}
		return contentRange{first: 0, last: size - 1, total: size}, true
	}
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return contentRange{}, false
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return contentRange{}, false
	}
	cr := contentRange{first: -1, last: -1, total: -1}
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return contentRange{}, false
		}
		cr.total = n
	}
	if rng == "*" {
		return cr, true
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return contentRange{}, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first || (cr.total >= 0 && last >= cr.total) {
		return contentRange{}, false
	}
	cr.first, cr.last = first, last
	return cr, true
}

// playUploadChunk serves one request to a session URI.
func (s *Server) playUploadChunk(kind string) spoolFunc {
	return func(r *http.Request, body *spooledBody) (int, any, error) {
		sess, ok := s.st.PlayUploads[r.URL.Query().Get("upload_id")]
		if !ok || sess.Kind != kind || sess.Package != r.PathValue("pkg") || sess.Edit != r.PathValue("edit") {
			return 0, nil, gNotFound("notFound", "No upload session was found for the given upload_id.")
		}
		if sess.Owner != s.callerEmail(r) {
			return 0, nil, gForbidden("forbidden", "The upload session belongs to another user.")
		}
		switch sess.State {
		case sessionExpired:
			return 0, nil, &googleError{Code: http.StatusGone, Status: "NOT_FOUND", Reason: "uploadExpired",
				Message: "The upload session has expired. Start a new resumable upload."}
		case sessionDone:
			return http.StatusOK, artifactJSON(*sess.Artifact), nil
		case sessionFailed:
			return 0, nil, sess.Error.googleError()
		}
		cr, ok := parseContentRange(r.Header.Get("Content-Range"), body.Size)
		if !ok {
			return 0, nil, gBadRequest("badRequest", "Invalid Content-Range header: "+strconv.Quote(r.Header.Get("Content-Range"))+".")
		}
		if cr.total >= 0 {
			if sess.Total >= 0 && sess.Total != cr.total {
				return 0, nil, gBadRequest("badRequest", fmt.Sprintf("Content-Range total %d differs from the upload's size %d.", cr.total, sess.Total))
			}
			if cr.total > s.cfg.MaxUploadBytes {
				return 0, nil, gBadRequest("badRequest", "Media larger than the maximum upload size of "+strconv.FormatInt(s.cfg.MaxUploadBytes, 10)+" bytes.")
			}
			if cr.total < sess.Received {
				return 0, nil, gBadRequest("badRequest", fmt.Sprintf("Content-Range total %d is below the %d bytes already received.", cr.total, sess.Received))
			}
		}
		if cr.first < 0 {
			// "bytes */TOTAL": a progress query, or the end of an upload
			// whose size was a multiple of the chunk size.
			if body.Size != 0 {
				return 0, nil, gBadRequest("badRequest", "Content-Range bytes */… must come with an empty body.")
			}
			if cr.total >= 0 {
				sess.Total = cr.total
			}
		} else {
			if body.Size != cr.last-cr.first+1 {
				return 0, nil, gBadRequest("badRequest", fmt.Sprintf("Content-Range covers %d bytes but the body has %d.", cr.last-cr.first+1, body.Size))
			}
			if cr.first > sess.Received {
				return 0, nil, gBadRequest("badRequest", fmt.Sprintf("Chunk starts at byte %d but only %d bytes were received; resume from byte %d.", cr.first, sess.Received, sess.Received))
			}
			if cr.total >= 0 {
				sess.Total = cr.total
			}
			if cr.last >= sess.Received {
				path, err := s.blobFile(sess.Blob)
				if err != nil {
					return 0, nil, err
				}
				if err := copyRange(path, sess.Received, body.Path, sess.Received-cr.first); err != nil {
					return 0, nil, err
				}
				sess.Received = cr.last + 1
			}
		}
		if sess.Total >= 0 && sess.Received == sess.Total {
			return s.finishUploadLocked(r, sess)
		}
		return resumeIncomplete(r, sess)
	}
}

// resumeIncomplete is the 308 Resume Incomplete answer, or its 200 stand-in
// for clients that send X-GUploader-No-308, with the range received so far.
func resumeIncomplete(r *http.Request, sess *playUploadSession) (int, any, error) {
	h := http.Header{}
	if sess.Received > 0 {
		h.Set("Range", fmt.Sprintf("bytes=0-%d", sess.Received-1))
	}
	if strings.EqualFold(r.Header.Get("X-GUploader-No-308"), "yes") {
		h.Set("X-HTTP-Status-Code-Override", "308")
		return http.StatusOK, &headedResponse{header: h}, nil
	}
	return http.StatusPermanentRedirect, &headedResponse{header: h}, nil
}

// finishUploadLocked checks the complete file as a simple upload would be
// checked and ends the session either way.
func (s *Server) finishUploadLocked(r *http.Request, sess *playUploadSession) (int, any, error) {
	fail := func(err error) (int, any, error) {
		var ge *googleError
		if errors.As(err, &ge) {
			sess.State = sessionFailed
			sess.Error = &sessionError{Code: ge.Code, Status: ge.Status, Reason: ge.Reason, Message: ge.Message}
			s.removeBlob(r.Context(), sess.Blob)
			sess.Blob = ""
		}
		return 0, nil, err
	}
	app, e, err := s.openEdit(r)
	if err != nil {
		return fail(err)
	}
	path, err := s.blobFile(sess.Blob)
	if err != nil {
		return 0, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, nil, fmt.Errorf("fakestore: open upload %s: %w", sess.ID, err)
	}
	defer f.Close()
	h1, h256 := sha1.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(h1, h256), io.NewSectionReader(f, 0, sess.Total)); err != nil {
		return 0, nil, fmt.Errorf("fakestore: hash upload %s: %w", sess.ID, err)
	}
	a, err := s.acceptArtifactLocked(app, e, sess.Kind, io.NewSectionReader(f, 0, sess.Total), sess.Total,
		hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil)))
	if err != nil {
		return fail(err)
	}
	sess.State, sess.Artifact = sessionDone, &a
	s.removeBlob(r.Context(), sess.Blob)
	sess.Blob = ""
	return http.StatusOK, artifactJSON(a), nil
}

// playUploadTick expires sessions past their lifetime and drops their bytes.
func (s *Server) playUploadTick(now time.Time) {
	for _, sess := range s.st.PlayUploads {
		if sess.State == sessionActive && !now.Before(sess.Expires) {
			sess.State = sessionExpired
			s.removeBlob(context.Background(), sess.Blob)
			sess.Blob = ""
		}
	}
}
