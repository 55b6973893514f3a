package appstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// App Store version states (appVersionState) the client acts on.
const (
	StatePrepareForSubmission    = "PREPARE_FOR_SUBMISSION"
	StateWaitingForReview        = "WAITING_FOR_REVIEW"
	StateInReview                = "IN_REVIEW"
	StatePendingDeveloperRelease = "PENDING_DEVELOPER_RELEASE"
	StateProcessingForDistrib    = "PROCESSING_FOR_DISTRIBUTION"
	StateReadyForDistribution    = "READY_FOR_DISTRIBUTION"
	StateRejected                = "REJECTED"
	StateDeveloperRejected       = "DEVELOPER_REJECTED"
	StateReplacedWithNewVersion  = "REPLACED_WITH_NEW_VERSION"
)

// editableStates are the states of a version not yet submitted or sent back.
var editableStates = []string{StatePrepareForSubmission, StateDeveloperRejected, StateRejected, "METADATA_REJECTED", "INVALID_BINARY"}

// PlatformIOS is the platform Ripcord ships.
const PlatformIOS = "IOS"

// Version is an App Store version of an app.
type Version struct {
	// ID is Apple's appStoreVersion id.
	ID string
	// AppID is the app's id.
	AppID string
	// Platform is IOS, MAC_OS, TV_OS or VISION_OS.
	Platform string
	// VersionString is the version shown on the store, e.g. "5.3.1".
	VersionString string
	// ReleaseType is MANUAL, AFTER_APPROVAL or SCHEDULED.
	ReleaseType string
	// State is appVersionState.
	State string
	// AppStoreState is the deprecated appStoreState, which still tells
	// DEVELOPER_REMOVED_FROM_SALE apart.
	AppStoreState string
	// BuildID is the attached build's id, if any.
	BuildID string
	// PhasedReleaseID is the version's phased release id, if any.
	PhasedReleaseID string
	// Created is when the version was created.
	Created time.Time
}

type versionAttrs struct {
	Platform        string    `json:"platform"`
	VersionString   string    `json:"versionString"`
	ReleaseType     string    `json:"releaseType"`
	AppVersionState string    `json:"appVersionState"`
	AppStoreState   string    `json:"appStoreState"`
	CreatedDate     time.Time `json:"createdDate"`
}

func versionFrom(r resource) (*Version, error) {
	var a versionAttrs
	if err := json.Unmarshal(r.Attributes, &a); err != nil {
		return nil, fmt.Errorf("decode appStoreVersion %s: %w", r.ID, err)
	}
	return &Version{ID: r.ID, AppID: r.relID("app"), Platform: a.Platform, VersionString: a.VersionString, ReleaseType: a.ReleaseType,
		State: a.AppVersionState, AppStoreState: a.AppStoreState, BuildID: r.relID("build"),
		PhasedReleaseID: r.relID("appStoreVersionPhasedRelease"), Created: a.CreatedDate}, nil
}

// GetVersion reads one App Store version.
func (c *Client) GetVersion(ctx context.Context, versionID string) (*Version, error) {
	var r resource
	if err := c.getOne(ctx, "get version", "/v1/appStoreVersions/"+url.PathEscape(versionID), &r, nil); err != nil {
		return nil, err
	}
	return versionFrom(r)
}

// ListVersions returns the app's versions for platform (default IOS),
// newest first.
func (c *Client) ListVersions(ctx context.Context, appID, platform string) ([]Version, error) {
	q := url.Values{"filter[platform]": {cmp.Or(platform, PlatformIOS)}, "limit": {"200"}}
	rs, err := c.listResources(ctx, "list versions", c.url("/v1/apps/"+url.PathEscape(appID)+"/appStoreVersions", q))
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(rs))
	for _, r := range rs {
		v, err := versionFrom(r)
		if err != nil {
			return nil, fmt.Errorf("appstore list versions: %w", err)
		}
		v.AppID = cmp.Or(v.AppID, appID)
		out = append(out, *v)
	}
	slices.SortStableFunc(out, func(a, b Version) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// CreateVersionParams describes a new App Store version.
type CreateVersionParams struct {
	// AppID is the app's id. Required.
	AppID string
	// VersionString is the new version, above the last approved one. Required.
	VersionString string
	// Platform defaults to IOS.
	Platform string
	// ReleaseType defaults to MANUAL: Ripcord releases explicitly.
	ReleaseType string
	// BuildID, when set, attaches this build.
	BuildID string
}

// CreateVersion creates the version, or returns it when a version with this
// versionString already exists (attaching BuildID if it differs), so a
// retry never creates two.
func (c *Client) CreateVersion(ctx context.Context, p CreateVersionParams) (*Version, error) {
	const op = "create version"
	if p.AppID == "" || p.VersionString == "" {
		return nil, fmt.Errorf("appstore %s: AppID and VersionString are required", op)
	}
	p.Platform = cmp.Or(p.Platform, PlatformIOS)
	p.ReleaseType = cmp.Or(p.ReleaseType, "MANUAL")
	var out *Version
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		existing, err := c.findVersion(ctx, p.AppID, p.Platform, p.VersionString)
		if err != nil {
			return err
		}
		if existing != nil {
			if !slices.Contains(editableStates, existing.State) && existing.State != StateWaitingForReview && existing.State != StateInReview {
				return stateError(op, ErrWrongState, "Version "+p.VersionString+" already exists and is "+existing.State+": The version number has been previously used.",
					"use a versionString above the last approved version")
			}
			out = existing
			if p.BuildID != "" && existing.BuildID != p.BuildID {
				if err := c.attachBuild(ctx, existing, p.BuildID); err != nil {
					return err
				}
				out.BuildID = p.BuildID
			}
			return nil
		}
		rels := map[string]any{"app": toOne("apps", p.AppID)}
		if p.BuildID != "" {
			rels["build"] = toOne("builds", p.BuildID)
		}
		doc := map[string]any{"data": map[string]any{"type": "appStoreVersions",
			"attributes":    map[string]any{"platform": p.Platform, "versionString": p.VersionString, "releaseType": p.ReleaseType},
			"relationships": rels}}
		var r resource
		if err := c.send(ctx, op, http.MethodPost, "/v1/appStoreVersions", doc, &r); err != nil {
			return err
		}
		out, err = versionFrom(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appstore app %s version %s: %w", p.AppID, p.VersionString, err)
	}
	return out, nil
}

func (c *Client) findVersion(ctx context.Context, appID, platform, versionString string) (*Version, error) {
	q := url.Values{"filter[platform]": {platform}, "filter[versionString]": {versionString}}
	rs, err := c.listResources(ctx, "find version", c.url("/v1/apps/"+url.PathEscape(appID)+"/appStoreVersions", q))
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		v, err := versionFrom(r)
		if err != nil {
			return nil, err
		}
		if v.VersionString == versionString {
			v.AppID = cmp.Or(v.AppID, appID)
			return v, nil
		}
	}
	return nil, nil
}

// AttachBuild sets the version's build. It does nothing when the build is
// already attached; the store refuses a change once the version is submitted.
func (c *Client) AttachBuild(ctx context.Context, versionID, buildID string) error {
	err := c.idempotent(ctx, "attach build", func(ctx context.Context) error {
		v, err := c.GetVersion(ctx, versionID)
		if err != nil {
			return err
		}
		if v.BuildID == buildID {
			return nil
		}
		return c.attachBuild(ctx, v, buildID)
	})
	if err != nil {
		return fmt.Errorf("appstore version %s: attach build %s: %w", versionID, buildID, err)
	}
	return nil
}

func (c *Client) attachBuild(ctx context.Context, v *Version, buildID string) error {
	return c.send(ctx, "attach build", http.MethodPatch, "/v1/appStoreVersions/"+url.PathEscape(v.ID)+"/relationships/build",
		map[string]any{"data": ident{Type: "builds", ID: buildID}}, nil)
}

// DeleteVersion deletes a version that was never approved or is back to an
// editable state; deleting a version already gone succeeds.
func (c *Client) DeleteVersion(ctx context.Context, versionID string) error {
	err := c.idempotent(ctx, "delete version", func(ctx context.Context) error {
		if _, err := c.GetVersion(ctx, versionID); isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		err := c.send(ctx, "delete version", http.MethodDelete, "/v1/appStoreVersions/"+url.PathEscape(versionID), nil, nil)
		if isNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("appstore version %s: delete: %w", versionID, err)
	}
	return nil
}

// ReleaseVersion releases a version waiting in Pending Developer Release
// (POST appStoreVersionReleaseRequests). A version already released is left
// alone; any other state is ErrWrongState.
func (c *Client) ReleaseVersion(ctx context.Context, versionID string) error {
	const op = "release version"
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		v, err := c.GetVersion(ctx, versionID)
		if err != nil {
			return err
		}
		switch v.State {
		case StateReadyForDistribution, StateProcessingForDistrib:
			return nil
		case StatePendingDeveloperRelease:
		default:
			return stateError(op, ErrWrongState, "Version "+v.VersionString+" is "+v.State+"; only a version in PENDING_DEVELOPER_RELEASE can be released.",
				"wait for App Review to approve the version")
		}
		doc := map[string]any{"data": map[string]any{"type": "appStoreVersionReleaseRequests",
			"relationships": map[string]any{"appStoreVersion": toOne("appStoreVersions", versionID)}}}
		return c.send(ctx, op, http.MethodPost, "/v1/appStoreVersionReleaseRequests", doc, nil)
	})
	if err != nil {
		return fmt.Errorf("appstore version %s: %w", versionID, err)
	}
	return nil
}
