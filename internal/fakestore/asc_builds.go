package fakestore

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Build processing states (Build.processingState).
const (
	BuildProcessing = "PROCESSING"
	BuildValid      = "VALID"
	BuildInvalid    = "INVALID"
	BuildFailed     = "FAILED"
)

const platformIOS = "IOS"

// buildLifetime is how long a TestFlight build stays usable (A5).
const buildLifetime = 90 * 24 * time.Hour

// ascPreRelease is a preReleaseVersion: a train (CFBundleShortVersionString)
// of builds of one app and platform.
type ascPreRelease struct {
	ID       string `json:"id"`
	AppID    string `json:"app_id"`
	Platform string `json:"platform"`
	Version  string `json:"version"`
}

type ascBuild struct {
	ID           string    `json:"id"`
	AppID        string    `json:"app_id"`
	Platform     string    `json:"platform"`
	ShortVersion string    `json:"short_version"` // CFBundleShortVersionString
	Version      string    `json:"version"`       // CFBundleVersion
	PreReleaseID string    `json:"pre_release_id"`
	Uploaded     time.Time `json:"uploaded"`
	ReadyAt      time.Time `json:"ready_at"`
	Outcome      string    `json:"outcome"`
	State        string    `json:"state"`
	UploadID     string    `json:"upload_id,omitempty"`
}

// ASCBuildSpec is a build arriving outside the API, as from Transporter or
// Xcode: it appears PROCESSING and turns Outcome after
// Config.BuildProcessingDelay.
type ASCBuildSpec struct {
	// Version is CFBundleShortVersionString (the preReleaseVersion). Required.
	Version string `json:"version"`
	// BuildNumber is CFBundleVersion. Required.
	BuildNumber string `json:"build_number"`
	// Platform defaults to IOS.
	Platform string `json:"platform,omitempty"`
	// Outcome is VALID (default), INVALID or FAILED.
	Outcome string `json:"outcome,omitempty"`
}

func ascBuildKey(appID, platform, version, number string) string {
	return appID + "/" + platform + "/" + version + "/" + number
}

func validOutcome(o string) bool {
	return o == BuildValid || o == BuildInvalid || o == BuildFailed
}

// AddASCBuild makes a build arrive for the app, as an upload outside the API
// would, and returns its id.
func (s *Server) AddASCBuild(appID string, spec ASCBuildSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.st.ASC.Apps[appID]
	if !ok {
		return "", fmt.Errorf("asc build: no app with id %s", appID)
	}
	spec.Platform = cmpOr(spec.Platform, platformIOS)
	if spec.Outcome != "" && !validOutcome(spec.Outcome) {
		return "", fmt.Errorf("asc build: outcome %q must be VALID, INVALID or FAILED", spec.Outcome)
	}
	if err := s.checkNewBuildLocked(app, spec.Platform, spec.Version, spec.BuildNumber); err != nil {
		return "", fmt.Errorf("asc build: %s", err.Detail)
	}
	if spec.Outcome != "" {
		s.st.ASC.BuildOutcomes[ascBuildKey(appID, spec.Platform, spec.Version, spec.BuildNumber)] = spec.Outcome
	}
	b := s.newBuildLocked(app, spec.Platform, spec.Version, spec.BuildNumber, s.nowLocked())
	s.event("admin.asc.builds.create", "builds/"+b.ID)
	return b.ID, s.persistLocked()
}

// SetASCBuildOutcome sets how a build still to be uploaded (through the API
// or AddASCBuild) ends its processing: VALID, INVALID or FAILED.
func (s *Server) SetASCBuildOutcome(appID, version, buildNumber, outcome string) error {
	if !validOutcome(outcome) {
		return fmt.Errorf("asc build outcome %q must be VALID, INVALID or FAILED", outcome)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.ASC.Apps[appID]; !ok {
		return fmt.Errorf("asc build outcome: no app with id %s", appID)
	}
	s.st.ASC.BuildOutcomes[ascBuildKey(appID, platformIOS, version, buildNumber)] = outcome
	return s.persistLocked()
}

// checkNewBuildLocked applies the upload rules to a (version, build number)
// pair: both well formed, the pair unused (ITMS-90189), and the train not
// closed by an approved version at or above it (ITMS-90186).
func (s *Server) checkNewBuildLocked(app *ascApp, platform, version, number string) *ascError {
	if _, err := parseVersionString(version); err != nil {
		return ascInvalid("/data/attributes/cfBundleShortVersionString", "The value for CFBundleShortVersionString '"+version+"' "+err.Error())
	}
	if _, err := parseVersionString(number); err != nil {
		return ascInvalid("/data/attributes/cfBundleVersion", "The value for CFBundleVersion '"+number+"' "+err.Error())
	}
	for _, b := range s.st.ASC.Builds {
		if b.AppID == app.ID && b.Platform == platform && b.ShortVersion == version && b.Version == number {
			return ascConflict("ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE",
				"Redundant Binary Upload. You've already uploaded a build with build number '"+number+"' for version number '"+version+"'. Make sure you increment the build string before you upload your app to App Store Connect.")
		}
	}
	if last := s.lastApprovedLocked(app.ID, platform); last != nil && compareVersions(version, last.VersionString) <= 0 {
		return ascConflict("ENTITY_ERROR.ATTRIBUTE.INVALID",
			"Invalid Pre-Release Train. The train version '"+version+"' is closed for new build submissions")
	}
	return nil
}

func (s *Server) newBuildLocked(app *ascApp, platform, version, number string, uploaded time.Time) *ascBuild {
	var pre *ascPreRelease
	for _, p := range s.st.ASC.PreReleases {
		if p.AppID == app.ID && p.Platform == platform && p.Version == version {
			pre = p
		}
	}
	if pre == nil {
		pre = &ascPreRelease{ID: s.st.id(), AppID: app.ID, Platform: platform, Version: version}
		s.st.ASC.PreReleases[pre.ID] = pre
	}
	key := ascBuildKey(app.ID, platform, version, number)
	b := &ascBuild{ID: s.st.id(), AppID: app.ID, Platform: platform, ShortVersion: version, Version: number, PreReleaseID: pre.ID,
		Uploaded: uploaded, ReadyAt: uploaded.Add(s.cfg.BuildProcessingDelay), Outcome: cmpOr(s.st.ASC.BuildOutcomes[key], BuildValid), State: BuildProcessing}
	delete(s.st.ASC.BuildOutcomes, key)
	s.st.ASC.Builds[b.ID] = b
	s.tickBuilds(s.nowLocked())
	return b
}

// tickBuilds ends the processing of builds whose delay has passed.
func (s *Server) tickBuilds(now time.Time) {
	for _, b := range sortedByID(s.st.ASC.Builds, func(b *ascBuild) string { return b.ID }) {
		if b.State == BuildProcessing && !now.Before(b.ReadyAt) {
			b.State = b.Outcome
			s.event("asc.builds.processed", "builds/"+b.ID)
		}
	}
}

func (s *Server) buildJSON(b *ascBuild, now time.Time) map[string]any {
	exp := b.Uploaded.Add(buildLifetime)
	attrs := map[string]any{"version": b.Version, "uploadedDate": b.Uploaded, "expirationDate": exp, "expired": !now.Before(exp),
		"processingState": b.State, "minOsVersion": "15.0", "buildAudienceType": "APP_STORE_ELIGIBLE"}
	rels := map[string]any{"app": toOne("apps", b.AppID), "preReleaseVersion": toOne("preReleaseVersions", b.PreReleaseID)}
	if v := s.versionOfBuildLocked(b.ID); v != nil {
		rels["appStoreVersion"] = toOne("appStoreVersions", v.ID)
	}
	return s.resource("builds", b.ID, attrs, rels)
}

func (s *Server) preReleaseJSON(p *ascPreRelease) map[string]any {
	return s.resource("preReleaseVersions", p.ID, map[string]any{"version": p.Version, "platform": p.Platform},
		map[string]any{"app": toOne("apps", p.AppID)})
}

// versionOfBuildLocked returns the version the build is attached to.
func (s *Server) versionOfBuildLocked(buildID string) *ascVersion {
	for _, v := range s.st.ASC.Versions {
		if v.BuildID == buildID {
			return v
		}
	}
	return nil
}

func (s *Server) ascBuildsList(r *http.Request, _ []byte) (int, any, error) {
	now := s.nowLocked()
	apps, ids := filterValues(r, "app"), filterValues(r, "id")
	trains, numbers := filterValues(r, "preReleaseVersion.version"), filterValues(r, "version")
	states, platforms := filterValues(r, "processingState"), filterValues(r, "preReleaseVersion.platform")
	builds := []*ascBuild{}
	for _, b := range sortedByID(s.st.ASC.Builds, func(b *ascBuild) string { return b.ID }) {
		if matches(apps, b.AppID) && matches(ids, b.ID) && matches(trains, b.ShortVersion) && matches(numbers, b.Version) &&
			matches(states, b.State) && matches(platforms, b.Platform) {
			builds = append(builds, b)
		}
	}
	switch r.URL.Query().Get("sort") {
	case "-uploadedDate":
		slices.SortStableFunc(builds, func(a, b *ascBuild) int { return b.Uploaded.Compare(a.Uploaded) })
	case "uploadedDate":
		slices.SortStableFunc(builds, func(a, b *ascBuild) int { return a.Uploaded.Compare(b.Uploaded) })
	case "-version":
		slices.SortStableFunc(builds, func(a, b *ascBuild) int { return compareVersions(b.Version, a.Version) })
	case "version":
		slices.SortStableFunc(builds, func(a, b *ascBuild) int { return compareVersions(a.Version, b.Version) })
	}
	res := make([]map[string]any, 0, len(builds))
	var included []map[string]any
	seen := map[string]bool{}
	for _, b := range builds {
		res = append(res, s.buildJSON(b, now))
		if includes(r, "preReleaseVersion") && !seen[b.PreReleaseID] {
			seen[b.PreReleaseID] = true
			included = append(included, s.preReleaseJSON(s.st.ASC.PreReleases[b.PreReleaseID]))
		}
	}
	if includes(r, "preReleaseVersion") && included == nil {
		included = []map[string]any{}
	}
	return s.collection(r, res, included)
}

func (s *Server) ascBuildsGet(r *http.Request, _ []byte) (int, any, error) {
	b, ok := s.st.ASC.Builds[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("builds", r.PathValue("id"))
	}
	doc := s.single(r, s.buildJSON(b, s.nowLocked()))
	if includes(r, "preReleaseVersion") {
		doc["included"] = []map[string]any{s.preReleaseJSON(s.st.ASC.PreReleases[b.PreReleaseID])}
	}
	return 200, doc, nil
}

func (s *Server) ascPreReleasesList(r *http.Request, _ []byte) (int, any, error) {
	apps, versions, platforms := filterValues(r, "app"), filterValues(r, "version"), filterValues(r, "platform")
	var res []map[string]any
	for _, p := range sortedByID(s.st.ASC.PreReleases, func(p *ascPreRelease) string { return p.ID }) {
		if matches(apps, p.AppID) && matches(versions, p.Version) && matches(platforms, p.Platform) {
			res = append(res, s.preReleaseJSON(p))
		}
	}
	return s.collection(r, res, nil)
}

// parseVersionString checks Apple's version format: one to three
// period-separated non-negative integers (CFBundleShortVersionString rules;
// build numbers follow the same shape).
func parseVersionString(v string) ([]int, error) {
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 3 {
		return nil, fmt.Errorf("must be one to three period-separated integers")
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || strings.HasPrefix(p, "+") {
			return nil, fmt.Errorf("must be one to three period-separated integers")
		}
		out[i] = n
	}
	return out, nil
}

// compareVersions compares dotted versions numerically, missing parts as 0.
func compareVersions(a, b string) int {
	x, _ := parseVersionString(a)
	y, _ := parseVersionString(b)
	for i := range max(len(x), len(y)) {
		var p, q int
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if c := cmp.Compare(p, q); c != 0 {
			return c
		}
	}
	return 0
}
