package appstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Build processing states.
const (
	BuildProcessing = "PROCESSING"
	BuildValid      = "VALID"
	BuildInvalid    = "INVALID"
	BuildFailed     = "FAILED"
)

// Build is an uploaded binary of an app, as App Store Connect processes it.
type Build struct {
	// ID is Apple's build id.
	ID string
	// AppID is the app's id.
	AppID string
	// Version is the build's CFBundleShortVersionString (its preReleaseVersion).
	Version string
	// BuildNumber is the build's CFBundleVersion.
	BuildNumber string
	// ProcessingState is PROCESSING, VALID, INVALID or FAILED.
	ProcessingState string
	// Uploaded is when the build reached App Store Connect.
	Uploaded time.Time
	// Expired reports a TestFlight build past its 90 days.
	Expired bool
}

// BuildFilter selects builds; empty fields match everything but AppID, which
// is required.
type BuildFilter struct {
	// AppID is the app's id. Required.
	AppID string
	// Version is the CFBundleShortVersionString (preReleaseVersion.version).
	Version string
	// BuildNumber is the CFBundleVersion.
	BuildNumber string
	// ProcessingState is one of the Build* states.
	ProcessingState string
}

type buildAttrs struct {
	Version         string    `json:"version"`
	UploadedDate    time.Time `json:"uploadedDate"`
	Expired         bool      `json:"expired"`
	ProcessingState string    `json:"processingState"`
}

// ListBuilds returns the app's builds matching f, newest upload first.
func (c *Client) ListBuilds(ctx context.Context, f BuildFilter) ([]Build, error) {
	if f.AppID == "" {
		return nil, fmt.Errorf("appstore list builds: AppID is required")
	}
	q := url.Values{"filter[app]": {f.AppID}, "sort": {"-uploadedDate"}, "include": {"preReleaseVersion"}, "limit": {"200"}}
	if f.Version != "" {
		q.Set("filter[preReleaseVersion.version]", f.Version)
	}
	if f.BuildNumber != "" {
		q.Set("filter[version]", f.BuildNumber)
	}
	if f.ProcessingState != "" {
		q.Set("filter[processingState]", f.ProcessingState)
	}
	var out []Build
	trains := map[string]string{}
	next := c.url("/v1/builds", q)
	for pages := 0; next != ""; pages++ {
		if pages >= 1000 {
			return nil, fmt.Errorf("appstore list builds: more than 1000 pages; narrow the filter")
		}
		var page struct {
			Data     []resource `json:"data"`
			Included []resource `json:"included"`
			Links    pageLinks  `json:"links"`
		}
		if err := c.do(ctx, "list builds", http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		for _, inc := range page.Included {
			var a struct {
				Version string `json:"version"`
			}
			if inc.Type == "preReleaseVersions" && json.Unmarshal(inc.Attributes, &a) == nil {
				trains[inc.ID] = a.Version
			}
		}
		for _, r := range page.Data {
			b, err := buildFrom(r)
			if err != nil {
				return nil, fmt.Errorf("appstore list builds: %w", err)
			}
			b.AppID = f.AppID
			b.Version = trains[r.relID("preReleaseVersion")]
			out = append(out, b)
		}
		next = page.Links.Next
	}
	return out, nil
}

func buildFrom(r resource) (Build, error) {
	var a buildAttrs
	if err := json.Unmarshal(r.Attributes, &a); err != nil {
		return Build{}, fmt.Errorf("decode build %s: %w", r.ID, err)
	}
	return Build{ID: r.ID, AppID: r.relID("app"), BuildNumber: a.Version, ProcessingState: a.ProcessingState, Uploaded: a.UploadedDate, Expired: a.Expired}, nil
}

// FindBuild returns the app's build with this version and build number, or
// an *Error matching ErrNotFound.
func (c *Client) FindBuild(ctx context.Context, appID, version, buildNumber string) (*Build, error) {
	bs, err := c.ListBuilds(ctx, BuildFilter{AppID: appID, Version: version, BuildNumber: buildNumber})
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.Version == version && b.BuildNumber == buildNumber {
			return &b, nil
		}
	}
	return nil, &Error{Op: "find build", Status: http.StatusNotFound,
		Errors: []APIError{{Status: "404", Code: "NOT_FOUND", Title: "No such build", Detail: "App " + appID + " has no build " + version + " (" + buildNumber + ")."}},
		Hint:   "upload the build first (UploadBuild, Xcode or Transporter); a fresh upload takes a few minutes to appear"}
}

// WaitBuildValid polls until the build exists and finished processing
// VALID, returning it. INVALID or FAILED end the wait with ErrBuildNotValid;
// a build still missing or PROCESSING after timeout gives ErrTimeout.
func (c *Client) WaitBuildValid(ctx context.Context, appID, version, buildNumber string, timeout time.Duration) (*Build, error) {
	const op = "wait for build"
	var got *Build
	err := c.poll(ctx, op, timeout, func(ctx context.Context) (bool, error) {
		b, err := c.FindBuild(ctx, appID, version, buildNumber)
		if err != nil {
			if isNotFound(err) {
				return false, nil
			}
			return false, err
		}
		switch b.ProcessingState {
		case BuildValid:
			got = b
			return true, nil
		case BuildInvalid, BuildFailed:
			return false, stateError(op, ErrBuildNotValid, "Build "+version+" ("+buildNumber+") finished processing "+b.ProcessingState+".",
				"read the processing email from Apple, fix the binary and upload a new build number")
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("appstore build %s (%s) of app %s: %w", version, buildNumber, appID, err)
	}
	return got, nil
}
