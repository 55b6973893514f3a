package fakestore

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ascState holds every App Store Connect resource of the fake. Maps are
// keyed by id; ids are unique across the whole fake.
type ascState struct {
	Apps        map[string]*ascApp           `json:"apps"`
	PreReleases map[string]*ascPreRelease    `json:"pre_release_versions"`
	Builds      map[string]*ascBuild         `json:"builds"`
	Uploads     map[string]*ascUpload        `json:"build_uploads"`
	UploadFiles map[string]*ascUploadFile    `json:"build_upload_files"`
	Versions    map[string]*ascVersion       `json:"app_store_versions"`
	Submissions map[string]*ascSubmission    `json:"review_submissions"`
	Items       map[string]*ascItem          `json:"review_submission_items"`
	Phased      map[string]*ascPhasedRelease `json:"phased_releases"`
	// BuildOutcomes configures the processing result of builds yet to
	// arrive, keyed by ascBuildKey: VALID (default), INVALID or FAILED.
	BuildOutcomes map[string]string `json:"build_outcomes"`
	// ReviewOutcomes configures App Review's decision per app id: "approve"
	// (default) or "reject".
	ReviewOutcomes map[string]string `json:"review_outcomes"`
}

// ASCAppSpec creates an App Store Connect app in the fake.
type ASCAppSpec struct {
	// BundleID is the app's bundle identifier. Required.
	BundleID string `json:"bundle_id"`
	// Name is the app's name; default the bundle id.
	Name string `json:"name,omitempty"`
	// SKU is the app's SKU; default the bundle id.
	SKU string `json:"sku,omitempty"`
	// LiveVersion, when set, gives the app an iOS version already on the
	// store (READY_FOR_DISTRIBUTION) with this versionString and a VALID
	// build numbered LiveBuild, so updates (and phased releases) can follow.
	LiveVersion string `json:"live_version,omitempty"`
	// LiveBuild is the live version's build number; default "1".
	LiveBuild string `json:"live_build,omitempty"`
}

type ascApp struct {
	ID            string `json:"id"`
	BundleID      string `json:"bundle_id"`
	Name          string `json:"name"`
	SKU           string `json:"sku"`
	PrimaryLocale string `json:"primary_locale"`
}

func newASCState() *ascState {
	a := &ascState{}
	a.fill()
	return a
}

// fill makes every nil map empty, for state written by older fakes.
func (a *ascState) fill() {
	fillMap(&a.Apps)
	fillMap(&a.PreReleases)
	fillMap(&a.Builds)
	fillMap(&a.Uploads)
	fillMap(&a.UploadFiles)
	fillMap(&a.Versions)
	fillMap(&a.Submissions)
	fillMap(&a.Items)
	fillMap(&a.Phased)
	fillMap(&a.BuildOutcomes)
	fillMap(&a.ReviewOutcomes)
}

func fillMap[V any](m *map[string]V) {
	if *m == nil {
		*m = map[string]V{}
	}
}

func (a *ascState) appByBundle(bundle string) *ascApp {
	for _, app := range a.Apps {
		if app.BundleID == bundle {
			return app
		}
	}
	return nil
}

// CreateASCApp creates an App Store Connect app and returns its id.
func (s *Server) CreateASCApp(spec ASCAppSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, err := s.createASCAppLocked(spec)
	if err != nil {
		return "", err
	}
	return app.ID, s.persistLocked()
}

func (s *Server) createASCAppLocked(spec ASCAppSpec) (*ascApp, error) {
	if spec.BundleID == "" {
		return nil, fmt.Errorf("asc app: bundle_id is required")
	}
	if s.st.ASC.appByBundle(spec.BundleID) != nil {
		return nil, fmt.Errorf("asc app %s: already exists", spec.BundleID)
	}
	n, _ := strconv.ParseInt(s.st.id(), 10, 64)
	app := &ascApp{ID: strconv.FormatInt(1_000_000_000+n, 10), BundleID: spec.BundleID,
		Name: cmpOr(spec.Name, spec.BundleID), SKU: cmpOr(spec.SKU, spec.BundleID), PrimaryLocale: "en-US"}
	if spec.LiveVersion != "" {
		if _, err := parseVersionString(spec.LiveVersion); err != nil {
			return nil, fmt.Errorf("asc app %s: live_version: %w", spec.BundleID, err)
		}
	}
	s.st.ASC.Apps[app.ID] = app
	s.event("admin.asc.apps.create", "apps/"+app.ID)
	if spec.LiveVersion != "" {
		now := s.nowLocked()
		b := s.newBuildLocked(app, platformIOS, spec.LiveVersion, cmpOr(spec.LiveBuild, "1"), now.Add(-s.cfg.BuildProcessingDelay))
		v := &ascVersion{ID: s.st.id(), AppID: app.ID, Platform: platformIOS, VersionString: spec.LiveVersion,
			ReleaseType: "MANUAL", BuildID: b.ID, State: stReadyForDistribution, Created: now, Approved: true, ReleasedAt: now}
		s.st.ASC.Versions[v.ID] = v
	}
	return app, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ascTick applies App Store Connect transitions due at now: build imports
// and processing, App Review, cancellations and phased-release days.
func (s *Server) ascTick(now time.Time) {
	s.tickUploads(now)
	s.tickBuilds(now)
	s.tickReviews(now)
	s.tickPhased(now)
}

// ascRoutes registers the App Store Connect API. Operation names
// ("asc.<resource>.<verb>") are what faults and events use.
func (s *Server) ascRoutes(a func(pattern, op string, mutates bool, fn handlerFunc)) {
	a("GET /v1/apps", "asc.apps.list", false, s.ascAppsList)
	a("GET /v1/apps/{id}", "asc.apps.get", false, s.ascAppsGet)

	a("GET /v1/builds", "asc.builds.list", false, s.ascBuildsList)
	a("GET /v1/builds/{id}", "asc.builds.get", false, s.ascBuildsGet)
	a("GET /v1/preReleaseVersions", "asc.preReleaseVersions.list", false, s.ascPreReleasesList)

	a("POST /v1/buildUploads", "asc.buildUploads.create", true, s.ascUploadsCreate)
	a("GET /v1/buildUploads/{id}", "asc.buildUploads.get", false, s.ascUploadsGet)
	a("DELETE /v1/buildUploads/{id}", "asc.buildUploads.delete", true, s.ascUploadsDelete)
	a("GET /v1/apps/{id}/buildUploads", "asc.apps.buildUploads.list", false, s.ascAppUploadsList)
	a("GET /v1/buildUploads/{id}/buildUploadFiles", "asc.buildUploads.buildUploadFiles.list", false, s.ascUploadFilesList)
	a("POST /v1/buildUploadFiles", "asc.buildUploadFiles.create", true, s.ascUploadFilesCreate)
	a("GET /v1/buildUploadFiles/{id}", "asc.buildUploadFiles.get", false, s.ascUploadFilesGet)
	a("PATCH /v1/buildUploadFiles/{id}", "asc.buildUploadFiles.update", true, s.ascUploadFilesUpdate)

	a("POST /v1/appStoreVersions", "asc.appStoreVersions.create", true, s.ascVersionsCreate)
	a("GET /v1/appStoreVersions/{id}", "asc.appStoreVersions.get", false, s.ascVersionsGet)
	a("DELETE /v1/appStoreVersions/{id}", "asc.appStoreVersions.delete", true, s.ascVersionsDelete)
	a("GET /v1/apps/{id}/appStoreVersions", "asc.apps.appStoreVersions.list", false, s.ascVersionsList)
	a("PATCH /v1/appStoreVersions/{id}/relationships/build", "asc.appStoreVersions.build.update", true, s.ascVersionsAttachBuild)
	a("GET /v1/appStoreVersions/{id}/appStoreVersionPhasedRelease", "asc.appStoreVersions.appStoreVersionPhasedRelease.get", false, s.ascVersionPhasedGet)
	a("GET /v1/appStoreVersions/{id}/appStoreVersionSubmission", "asc.appStoreVersions.appStoreVersionSubmission.get", false, s.ascLegacySubmissionGet)
	a("DELETE /v1/appStoreVersionSubmissions/{id}", "asc.appStoreVersionSubmissions.delete", true, s.ascLegacySubmissionDelete)
	a("POST /v1/appStoreVersionReleaseRequests", "asc.appStoreVersionReleaseRequests.create", true, s.ascReleaseRequestsCreate)

	a("GET /v1/reviewSubmissions", "asc.reviewSubmissions.list", false, s.ascSubmissionsList)
	a("POST /v1/reviewSubmissions", "asc.reviewSubmissions.create", true, s.ascSubmissionsCreate)
	a("GET /v1/reviewSubmissions/{id}", "asc.reviewSubmissions.get", false, s.ascSubmissionsGet)
	a("PATCH /v1/reviewSubmissions/{id}", "asc.reviewSubmissions.update", true, s.ascSubmissionsUpdate)
	a("GET /v1/reviewSubmissions/{id}/items", "asc.reviewSubmissions.items.list", false, s.ascItemsList)
	a("POST /v1/reviewSubmissionItems", "asc.reviewSubmissionItems.create", true, s.ascItemsCreate)

	a("POST /v1/appStoreVersionPhasedReleases", "asc.appStoreVersionPhasedReleases.create", true, s.ascPhasedCreate)
	a("PATCH /v1/appStoreVersionPhasedReleases/{id}", "asc.appStoreVersionPhasedReleases.update", true, s.ascPhasedUpdate)
	a("DELETE /v1/appStoreVersionPhasedReleases/{id}", "asc.appStoreVersionPhasedReleases.delete", true, s.ascPhasedDelete)
}

func (s *Server) ascAdminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_fake/asc/apps", func(w http.ResponseWriter, r *http.Request) {
		var spec ASCAppSpec
		if err := decodeAdmin(r, &spec); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		id, err := s.CreateASCApp(spec)
		if err != nil {
			adminErr(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, 201, map[string]string{"id": id})
	})
	mux.HandleFunc("POST /_fake/asc/apps/{id}/builds", func(w http.ResponseWriter, r *http.Request) {
		var spec ASCBuildSpec
		if err := decodeAdmin(r, &spec); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		id, err := s.AddASCBuild(r.PathValue("id"), spec)
		if err != nil {
			adminErr(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, 201, map[string]string{"id": id})
	})
	mux.HandleFunc("POST /_fake/asc/apps/{id}/build-outcomes", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Version     string `json:"version"`
			BuildNumber string `json:"build_number"`
			Outcome     string `json:"outcome"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetASCBuildOutcome(r.PathValue("id"), req.Version, req.BuildNumber, req.Outcome); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/asc/apps/{id}/review-outcome", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Outcome string `json:"outcome"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetASCReviewOutcome(r.PathValue("id"), req.Outcome); err != nil {
			adminErr(w, http.StatusBadRequest, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/asc/versions/{id}/remove-from-sale", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RemoveASCVersionFromSale(r.PathValue("id")); err != nil {
			adminErr(w, http.StatusConflict, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) ascAppJSON(app *ascApp) map[string]any {
	return map[string]any{
		"type": "apps", "id": app.ID,
		"attributes": map[string]any{"name": app.Name, "bundleId": app.BundleID, "sku": app.SKU, "primaryLocale": app.PrimaryLocale},
		"links":      map[string]string{"self": s.cfg.BaseURL + "/v1/apps/" + app.ID},
	}
}

// ascPage cuts a sorted list for limit and cursor, as Apple's JSON:API does:
// links.next is a full URL to follow verbatim, meta.paging has total and limit.
func (s *Server) ascPage(r *http.Request, n int) (from, to int, links map[string]string, meta map[string]any, err error) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		l, perr := strconv.Atoi(v)
		if perr != nil || l < 1 || l > 200 {
			return 0, 0, nil, nil, &ascError{Status: 400, Code: "PARAMETER_ERROR.INVALID", Title: "A parameter has an invalid value",
				Detail: "'" + v + "' is not a valid value for the parameter 'limit'. The value must be between 1 and 200."}
		}
		limit = l
	}
	if c := q.Get("cursor"); c != "" {
		off, perr := strconv.Atoi(c)
		if perr != nil || off < 0 || off > n {
			return 0, 0, nil, nil, ascBadRequest("The cursor is not valid.")
		}
		from = off
	}
	to = min(n, from+limit)
	self := s.cfg.BaseURL + r.URL.RequestURI()
	links = map[string]string{"self": self}
	if to < n {
		q.Set("cursor", strconv.Itoa(to))
		q.Set("limit", strconv.Itoa(limit))
		links["next"] = s.cfg.BaseURL + r.URL.Path + "?" + q.Encode()
	}
	meta = map[string]any{"paging": map[string]any{"total": n, "limit": limit}}
	return from, to, links, meta, nil
}

func (s *Server) ascAppsList(r *http.Request, _ []byte) (int, any, error) {
	var want []string
	if v := r.URL.Query().Get("filter[bundleId]"); v != "" {
		want = strings.Split(v, ",")
	}
	apps := make([]*ascApp, 0, len(s.st.ASC.Apps))
	for _, app := range s.st.ASC.Apps {
		if want == nil || slices.Contains(want, app.BundleID) {
			apps = append(apps, app)
		}
	}
	slices.SortFunc(apps, func(a, b *ascApp) int { return strings.Compare(a.ID, b.ID) })
	from, to, links, meta, err := s.ascPage(r, len(apps))
	if err != nil {
		return 0, nil, err
	}
	data := []any{}
	for _, app := range apps[from:to] {
		data = append(data, s.ascAppJSON(app))
	}
	return 200, map[string]any{"data": data, "links": links, "meta": meta}, nil
}

func (s *Server) ascAppsGet(r *http.Request, _ []byte) (int, any, error) {
	app, ok := s.st.ASC.Apps[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("apps", r.PathValue("id"))
	}
	return 200, map[string]any{"data": s.ascAppJSON(app), "links": map[string]string{"self": s.cfg.BaseURL + r.URL.RequestURI()}}, nil
}
