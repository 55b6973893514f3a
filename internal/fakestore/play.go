package fakestore

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord/internal/fakestore/androidpkg"
)

// Review gating of a Play app's commits (Google's behaviour differs per app;
// fastlane retries with the flag flipped).
const (
	// GatingAny accepts commits with or without changesNotSentForReview.
	GatingAny = ""
	// GatingRequired refuses commits without changesNotSentForReview=true.
	GatingRequired = "required"
	// GatingForbidden refuses commits with changesNotSentForReview=true.
	GatingForbidden = "forbidden"
)

// PlayAppSpec creates a Google Play app in the fake.
type PlayAppSpec struct {
	// PackageName is the application id, e.g. "com.example.app".
	PackageName string `json:"package_name"`
	// Draft marks an app never published: only draft releases are allowed.
	Draft bool `json:"draft,omitempty"`
	// ReviewGating is GatingAny, GatingRequired or GatingForbidden.
	ReviewGating string `json:"review_gating,omitempty"`
	// ExistingVersionCodes are codes uploaded before the fake existed (Play
	// requires a first APK through the Console); each burns its code, and
	// the highest is released to 100 % of production so staged rollouts work.
	ExistingVersionCodes []int64 `json:"existing_version_codes,omitempty"`
}

type playArtifact struct {
	VersionCode int64     `json:"version_code"`
	Kind        string    `json:"kind"` // apk or aab
	SHA1        string    `json:"sha1"`
	SHA256      string    `json:"sha256"`
	Uploaded    time.Time `json:"uploaded"`
}

type playRelease struct {
	Name             string            `json:"name,omitempty"`
	VersionCodes     []string          `json:"versionCodes,omitempty"`
	ReleaseNotes     []json.RawMessage `json:"releaseNotes,omitempty"`
	Status           string            `json:"status,omitempty"`
	UserFraction     float64           `json:"userFraction,omitempty"`
	CountryTargeting json.RawMessage   `json:"countryTargeting,omitempty"`
	InAppUpdatePrio  *int              `json:"inAppUpdatePriority,omitempty"`
}

type playTrack struct {
	Track    string        `json:"track"`
	Releases []playRelease `json:"releases"`
}

type playEdit struct {
	ID      string                `json:"id"`
	Owner   string                `json:"owner"`
	Created time.Time             `json:"created"`
	Expires time.Time             `json:"expires"`
	BaseSeq int64                 `json:"base_commit_seq"`
	State   string                `json:"state"` // open, committed, deleted, superseded
	Tracks  map[string]*playTrack `json:"tracks"`
	Uploads []playArtifact        `json:"uploads"`
}

type playApp struct {
	PackageName    string                `json:"package_name"`
	Draft          bool                  `json:"draft"`
	ReviewGating   string                `json:"review_gating"`
	MaxVersionCode int64                 `json:"max_version_code"`
	Artifacts      []playArtifact        `json:"artifacts"`
	Tracks         map[string]*playTrack `json:"tracks"`
	// Completed lists, per track, the version-code sets that have been
	// fully released there, oldest first: "first release of a track" and
	// halting a completed release depend on it.
	Completed map[string][]string    `json:"completed_history"`
	CommitSeq int64                  `json:"commit_seq"`
	Edits     map[string]*playEdit   `json:"edits"`
	Vitals    map[string]*VitalsSpec `json:"vitals"`
}

// Standard track names; "qa" is the internal track's current name and
// "internal" its older one — both are accepted.
var _ = []string{"production", "beta", "alpha", "qa", "internal"}

func isStandardTrack(t string) bool {
	switch t {
	case "production", "beta", "alpha", "qa", "internal":
		return true
	}
	return false
}

func isInternalTrack(t string) bool { return t == "qa" || t == "internal" }

// canonicalTrack maps the internal track's two names to one.
func canonicalTrack(t string) string {
	if t == "internal" {
		return "qa"
	}
	return t
}

// CreatePlayApp creates a Google Play app.
func (s *Server) CreatePlayApp(spec PlayAppSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.createPlayAppLocked(spec); err != nil {
		return err
	}
	return s.persistLocked()
}

func (s *Server) createPlayAppLocked(spec PlayAppSpec) (*playApp, error) {
	if spec.PackageName == "" {
		return nil, fmt.Errorf("play app: package_name is required")
	}
	if _, ok := s.st.Play[spec.PackageName]; ok {
		return nil, fmt.Errorf("play app %s: already exists", spec.PackageName)
	}
	switch spec.ReviewGating {
	case GatingAny, GatingRequired, GatingForbidden:
	default:
		return nil, fmt.Errorf("play app %s: review_gating %q must be empty, required or forbidden", spec.PackageName, spec.ReviewGating)
	}
	app := &playApp{
		PackageName: spec.PackageName, Draft: spec.Draft, ReviewGating: spec.ReviewGating,
		Tracks: map[string]*playTrack{}, Completed: map[string][]string{}, Edits: map[string]*playEdit{},
		Vitals: map[string]*VitalsSpec{},
	}
	now := s.nowLocked()
	for _, vc := range spec.ExistingVersionCodes {
		app.Artifacts = append(app.Artifacts, playArtifact{VersionCode: vc, Kind: "apk", Uploaded: now})
		app.MaxVersionCode = max(app.MaxVersionCode, vc)
	}
	if app.MaxVersionCode > 0 && !spec.Draft {
		code := strconv.FormatInt(app.MaxVersionCode, 10)
		app.Tracks["production"] = &playTrack{Track: "production", Releases: []playRelease{{Name: code, VersionCodes: []string{code}, Status: "completed"}}}
		app.Completed["production"] = []string{code}
	}
	s.st.Play[spec.PackageName] = app
	s.event("admin.play.apps.create", spec.PackageName)
	return app, nil
}

func (s *Server) playApp(r *http.Request) (*playApp, error) {
	pkg := r.PathValue("pkg")
	app, ok := s.st.Play[pkg]
	if !ok {
		return nil, gNotFound("applicationNotFound", "No application was found for the given package name.")
	}
	return app, nil
}

func (s *Server) callerEmail(r *http.Request) string {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return s.st.Tokens[raw].Email
}

// openEdit returns the caller's usable edit or the error Play answers with.
func (s *Server) openEdit(r *http.Request) (*playApp, *playEdit, error) {
	app, err := s.playApp(r)
	if err != nil {
		return nil, nil, err
	}
	e, ok := app.Edits[r.PathValue("edit")]
	if !ok || e.Owner != s.callerEmail(r) {
		return nil, nil, gNotFound("editNotFound", "No edit was found for the given edit id.")
	}
	switch e.State {
	case "deleted", "superseded":
		return nil, nil, gPrecondition("This Edit has been deleted.")
	case "committed":
		return nil, nil, gPrecondition("This Edit has already been committed.")
	}
	if !s.nowLocked().Before(e.Expires) {
		return nil, nil, gPrecondition("This edit has expired please create a new Edit.")
	}
	return app, e, nil
}

func editJSON(e *playEdit) map[string]any {
	return map[string]any{"id": e.ID, "expiryTimeSeconds": strconv.FormatInt(e.Expires.Unix(), 10)}
}

func (s *Server) playEditsInsert(r *http.Request, _ []byte) (int, any, error) {
	app, err := s.playApp(r)
	if err != nil {
		return 0, nil, err
	}
	owner := s.callerEmail(r)
	// "A new edit invalidates that user's others" (Google, Concurrency considerations).
	for _, e := range app.Edits {
		if e.Owner == owner && e.State == "open" {
			e.State = "superseded"
		}
	}
	now := s.nowLocked()
	e := &playEdit{ID: "edit-" + s.st.id(), Owner: owner, Created: now, Expires: now.Add(s.cfg.EditLifetime),
		BaseSeq: app.CommitSeq, State: "open", Tracks: cloneTracks(app.Tracks)}
	app.Edits[e.ID] = e
	s.event("androidpublisher.edits.insert", app.PackageName+"/edits/"+e.ID)
	return 200, editJSON(e), nil
}

func cloneTracks(in map[string]*playTrack) map[string]*playTrack {
	b, _ := json.Marshal(in)
	out := map[string]*playTrack{}
	_ = json.Unmarshal(b, &out)
	return out
}

func (s *Server) playEditsGet(r *http.Request, _ []byte) (int, any, error) {
	_, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	return 200, editJSON(e), nil
}

func (s *Server) playEditsDelete(r *http.Request, _ []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	e.State = "deleted"
	s.event("androidpublisher.edits.delete", app.PackageName+"/edits/"+e.ID)
	return 204, nil, nil
}

func (s *Server) playEditsValidate(r *http.Request, _ []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	if e.BaseSeq != app.CommitSeq {
		return 0, nil, staleEdit()
	}
	return 200, editJSON(e), nil
}

// staleEdit is the answer to a commit after another edit of the app was
// committed. Google documents the invalidation, not the message.
func staleEdit() *googleError {
	return &googleError{Code: 409, Status: "ABORTED", Reason: "editOutdated",
		Message: "This edit is outdated: another edit of this app was committed after it was opened. Create a new edit."}
}

func (s *Server) playEditsCommit(r *http.Request, _ []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	if e.BaseSeq != app.CommitSeq {
		e.State = "superseded"
		return 0, nil, staleEdit()
	}
	notSent := r.URL.Query().Get("changesNotSentForReview") == "true"
	switch {
	case app.ReviewGating == GatingRequired && !notSent:
		return 0, nil, gBadRequest("badRequest", "Changes cannot be sent for review automatically. Please set the query parameter changesNotSentForReview to true. Once committed, the changes in this edit can be sent for review from the Google Play Console UI.")
	case app.ReviewGating == GatingForbidden && notSent:
		return 0, nil, gBadRequest("badRequest", "Changes are sent for review automatically. The query parameter changesNotSentForReview must not be set.")
	}
	if b := r.URL.Query().Get("changesInReviewBehavior"); b != "" && b != "CANCEL_IN_REVIEW_AND_SUBMIT" && b != "ERROR_IF_IN_REVIEW" && b != "CHANGES_IN_REVIEW_BEHAVIOR_TYPE_UNSPECIFIED" {
		return 0, nil, gBadRequest("badRequest", "Invalid value for changesInReviewBehavior: "+b)
	}
	// Completed-release history moves with the committed tracks.
	for name, t := range e.Tracks {
		for _, rel := range t.Releases {
			if rel.Status != "completed" {
				continue
			}
			key := strings.Join(rel.VersionCodes, ",")
			h := app.Completed[name]
			if len(h) == 0 || h[len(h)-1] != key {
				app.Completed[name] = append(h, key)
			}
		}
	}
	app.Tracks = e.Tracks
	for _, a := range e.Uploads {
		app.Artifacts = append(app.Artifacts, a)
		app.MaxVersionCode = max(app.MaxVersionCode, a.VersionCode)
	}
	app.CommitSeq++
	e.State = "committed"
	s.event("androidpublisher.edits.commit", app.PackageName+"/edits/"+e.ID)
	return 200, editJSON(e), nil
}

// uploadBody extracts the media from a simple upload: uploadType=media (raw
// body) or multipart (multipart/related: JSON metadata, then the media).
func uploadBody(r *http.Request, body []byte) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	if !strings.HasPrefix(mt, "multipart/") {
		return body, nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var last []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, gBadRequest("badRequest", "Malformed multipart body.")
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, gBadRequest("badRequest", "Malformed multipart body.")
		}
		last = b
	}
	if last == nil {
		return nil, gBadRequest("badRequest", "Media is missing from the upload.")
	}
	return last, nil
}

func (s *Server) playUpload(kind string) handlerFunc {
	return func(r *http.Request, body []byte) (int, any, error) {
		app, e, err := s.openEdit(r)
		if err != nil {
			return 0, nil, err
		}
		switch ut := r.URL.Query().Get("uploadType"); ut {
		case "media", "multipart":
		case "resumable":
			return s.playResumableStart(r, app, e, kind)
		default:
			return 0, nil, gBadRequest("badRequest", "Upload type "+strconv.Quote(ut)+" is not supported; use media, multipart or resumable.")
		}
		media, err := uploadBody(r, body)
		if err != nil {
			return 0, nil, err
		}
		s1 := sha1.Sum(media)
		s256 := sha256.Sum256(media)
		a, err := s.acceptArtifactLocked(app, e, kind, bytes.NewReader(media), int64(len(media)), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:]))
		if err != nil {
			return 0, nil, err
		}
		return 200, artifactJSON(a), nil
	}
}

// acceptArtifactLocked applies Play's upload rules to an artifact (its
// manifest's package and versionCode) and adds it to the edit.
func (s *Server) acceptArtifactLocked(app *playApp, e *playEdit, kind string, r io.ReaderAt, size int64, sum1, sum256 string) (playArtifact, error) {
	var m *androidpkg.Manifest
	var err error
	if kind == "aab" {
		m, err = androidpkg.ReadAAB(r, size, androidpkg.Limits{})
	} else {
		m, err = androidpkg.ReadAPK(r, size, androidpkg.Limits{})
	}
	if err != nil {
		what := "APK"
		if kind == "aab" {
			what = "Android App Bundle"
		}
		return playArtifact{}, gBadRequest("apkInvalidFile", "The "+what+" is invalid: "+err.Error())
	}
	if m.Package != app.PackageName {
		return playArtifact{}, gForbidden("apkIncompatiblePackage", fmt.Sprintf("APK has the wrong package name: %s. Expected: %s.", m.Package, app.PackageName))
	}
	highest := app.MaxVersionCode
	for _, u := range e.Uploads {
		highest = max(highest, u.VersionCode)
	}
	if m.VersionCode <= highest {
		return playArtifact{}, gForbidden("apkUpgradeVersionConflict", "APK specifies a version code that has already been used.")
	}
	a := playArtifact{VersionCode: m.VersionCode, Kind: kind, SHA1: sum1, SHA256: sum256, Uploaded: s.nowLocked()}
	e.Uploads = append(e.Uploads, a)
	s.event("androidpublisher.edits."+map[string]string{"aab": "bundles", "apk": "apks"}[kind]+".upload",
		fmt.Sprintf("%s/edits/%s/%d", app.PackageName, e.ID, m.VersionCode))
	return a, nil
}

func artifactJSON(a playArtifact) map[string]any {
	if a.Kind == "aab" {
		return map[string]any{"versionCode": a.VersionCode, "sha1": a.SHA1, "sha256": a.SHA256}
	}
	return map[string]any{"versionCode": a.VersionCode, "binary": map[string]string{"sha1": a.SHA1, "sha256": a.SHA256}}
}

func (e *playEdit) artifacts(app *playApp) []playArtifact {
	return append(slices.Clone(app.Artifacts), e.Uploads...)
}

func (s *Server) playBundlesList(r *http.Request, _ []byte) (int, any, error) {
	return s.playArtifactsList(r, "aab", "androidpublisher#bundlesListResponse", "bundles")
}

func (s *Server) playApksList(r *http.Request, _ []byte) (int, any, error) {
	return s.playArtifactsList(r, "apk", "androidpublisher#apksListResponse", "apks")
}

func (s *Server) playArtifactsList(r *http.Request, kind, listKind, field string) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	out := []map[string]any{}
	for _, a := range e.artifacts(app) {
		if a.Kind == kind {
			out = append(out, artifactJSON(a))
		}
	}
	return 200, map[string]any{"kind": listKind, field: out}, nil
}

func (s *Server) editTrack(app *playApp, e *playEdit, name string) (*playTrack, error) {
	name = canonicalTrack(name)
	if t, ok := e.Tracks[name]; ok {
		return t, nil
	}
	if isStandardTrack(name) {
		return &playTrack{Track: name, Releases: []playRelease{}}, nil
	}
	return nil, gNotFound("trackNotFound", "Track not found: "+name)
}

func (s *Server) playTracksList(r *http.Request, _ []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	out := []*playTrack{}
	for _, name := range []string{"production", "beta", "alpha", "qa"} {
		t, _ := s.editTrack(app, e, name)
		out = append(out, t)
	}
	for name, t := range e.Tracks {
		if !isStandardTrack(name) {
			out = append(out, t)
		}
	}
	return 200, map[string]any{"kind": "androidpublisher#tracksListResponse", "tracks": out}, nil
}

func (s *Server) playTracksGet(r *http.Request, _ []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	t, err := s.editTrack(app, e, r.PathValue("track"))
	if err != nil {
		return 0, nil, err
	}
	return 200, t, nil
}

func (s *Server) playTracksUpdate(r *http.Request, body []byte) (int, any, error) {
	app, e, err := s.openEdit(r)
	if err != nil {
		return 0, nil, err
	}
	name := canonicalTrack(r.PathValue("track"))
	cur, err := s.editTrack(app, e, name)
	if err != nil {
		return 0, nil, err
	}
	var in playTrack
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return 0, nil, gBadRequest("badRequest", "Invalid JSON payload received. "+err.Error())
	}
	next, gerr := validateTrackUpdate(app, e, name, cur, in.Releases)
	if gerr != nil {
		return 0, nil, gerr
	}
	e.Tracks[name] = next
	s.event("androidpublisher.edits.tracks.update", fmt.Sprintf("%s/edits/%s/tracks/%s", app.PackageName, e.ID, name))
	return 200, next, nil
}

// validateTrackUpdate applies Play's release rules to a track update and
// returns the track as it will be; see rules.md for each rule's source.
func validateTrackUpdate(app *playApp, e *playEdit, name string, cur *playTrack, in []playRelease) (*playTrack, *googleError) {
	known := map[string]bool{}
	for _, a := range e.artifacts(app) {
		known[strconv.FormatInt(a.VersionCode, 10)] = true
	}
	committed := app.Tracks[name]
	history := app.Completed[name]
	counts := map[string]int{}
	for i := range in {
		rel := &in[i]
		switch rel.Status {
		case "draft", "inProgress", "halted", "completed":
		case "":
			return nil, gBadRequest("badRequest", "Release status must be specified.")
		default:
			return nil, gBadRequest("badRequest", "Invalid value for status: "+rel.Status)
		}
		counts[rel.Status]++
		if app.Draft && rel.Status != "draft" {
			return nil, gBadRequest("rolloutNotPermittedOnDraftApp", "Only releases with status draft may be created on draft app.")
		}
		var missing []string
		for _, vc := range rel.VersionCodes {
			if !known[vc] {
				missing = append(missing, vc)
			}
		}
		if len(missing) > 0 {
			return nil, gBadRequest("apkNotFound", "The following APK version codes could not be found: ["+strings.Join(missing, ", ")+"].")
		}
		if rel.Status != "draft" && len(rel.VersionCodes) == 0 {
			return nil, gBadRequest("badRequest", "A release with status "+rel.Status+" must have at least one version code.")
		}
		switch rel.Status {
		case "completed":
			if rel.UserFraction != 0 {
				return nil, gBadRequest("badRequest", "COMPLETED release must not have fraction.")
			}
		case "draft":
			if rel.UserFraction != 0 {
				return nil, gBadRequest("badRequest", "DRAFT release must not have fraction.")
			}
		case "inProgress", "halted":
			if rel.UserFraction == 0 && rel.Status == "halted" {
				return nil, gBadRequest("badRequest", "HALTED release must have fraction.")
			}
			if rel.UserFraction == 0 {
				return nil, gBadRequest("badRequest", "IN_PROGRESS release must have fraction.")
			}
			if rel.UserFraction >= 1 {
				return nil, gBadRequest("badRequest", "User fraction must be lower than one.")
			}
			if rel.UserFraction < 0 {
				return nil, gBadRequest("badRequest", "User fraction must be greater than zero.")
			}
		}
		key := strings.Join(rel.VersionCodes, ",")
		switch rel.Status {
		case "inProgress":
			if len(history) == 0 {
				return nil, gBadRequest("badRequest", "The first release on a track cannot be staged.")
			}
			if slices.Contains(history, key) {
				return nil, gBadRequest("badRequest", "Fully released can not be staged.")
			}
		case "halted":
			if err := checkHalt(name, committed, cur, history, key); err != nil {
				return nil, err
			}
		}
	}
	if counts["inProgress"]+counts["halted"] > 1 {
		return nil, gBadRequest("badRequest", "A track can have at most one release in progress or halted.")
	}
	if counts["completed"] > 1 {
		return nil, gBadRequest("releasesTooManyCompletedReleases", "Too many completed releases specified.")
	}
	if counts["draft"] > 1 {
		return nil, gBadRequest("badRequest", "A track can have at most one draft release.")
	}
	next := &playTrack{Track: name, Releases: slices.Clone(in)}
	// A staged release serves only its fraction; the last completed release
	// keeps serving everyone else, so it stays on the track unless replaced.
	if counts["completed"] == 0 && counts["inProgress"]+counts["halted"] > 0 {
		for _, rel := range cur.Releases {
			if rel.Status == "completed" {
				next.Releases = append([]playRelease{rel}, next.Releases...)
				break
			}
		}
	}
	if next.Releases == nil {
		next.Releases = []playRelease{}
	}
	return next, nil
}

// checkHalt: a halt must match a release that is in progress (or halted),
// or — since May 2025 — a completed release, except on the internal track
// and for a track's first release (Play Console help 16285429).
func checkHalt(name string, committed, cur *playTrack, history []string, key string) *googleError {
	for _, t := range []*playTrack{committed, cur} {
		if t == nil {
			continue
		}
		for _, rel := range t.Releases {
			if strings.Join(rel.VersionCodes, ",") != key {
				continue
			}
			switch rel.Status {
			case "inProgress", "halted":
				return nil
			case "completed":
				if isInternalTrack(name) {
					return gBadRequest("releaseToHaltNotFound", "Completed releases cannot be halted on the internal testing track.")
				}
				if len(history) < 2 {
					return gBadRequest("releaseToHaltNotFound", "The first release on a track cannot be halted.")
				}
				return nil
			}
		}
	}
	return gBadRequest("releaseToHaltNotFound", "Cannot halt release, no matching in progress release found.")
}

// playReleasesList is the edit-free read of a track's releases.
func (s *Server) playReleasesList(r *http.Request, _ []byte) (int, any, error) {
	app, err := s.playApp(r)
	if err != nil {
		return 0, nil, err
	}
	name := canonicalTrack(r.PathValue("track"))
	t := app.Tracks[name]
	if t == nil && !isStandardTrack(name) {
		return 0, nil, gNotFound("trackNotFound", "Track not found: "+name)
	}
	out := []map[string]any{}
	if t != nil {
		for _, rel := range t.Releases {
			state := map[string]string{"draft": "DRAFT", "inProgress": "PUBLISHED", "halted": "PUBLISHED", "completed": "PUBLISHED"}[rel.Status]
			codes := []map[string]any{}
			for _, vc := range rel.VersionCodes {
				codes = append(codes, map[string]any{"versionCode": vc})
			}
			out = append(out, map[string]any{"releaseName": rel.Name, "track": name, "releaseLifecycleState": state, "activeArtifacts": codes})
		}
	}
	return 200, map[string]any{"releases": out}, nil
}

// SimulateConsoleChange records a change made in Play Console: Google
// invalidates open API edits when the Console changes the app.
func (s *Server) SimulateConsoleChange(pkg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.st.Play[pkg]
	if !ok {
		return fmt.Errorf("play app %s does not exist; create it first", pkg)
	}
	app.CommitSeq++
	s.event("admin.play.console_change", pkg)
	return s.persistLocked()
}
