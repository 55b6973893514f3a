package appstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Phased release states.
const (
	PhasedInactive = "INACTIVE"
	PhasedActive   = "ACTIVE"
	PhasedPaused   = "PAUSED"
	PhasedComplete = "COMPLETE"
)

// PhasedRelease is a version's 7-day release to automatic-update users.
type PhasedRelease struct {
	// ID is Apple's appStoreVersionPhasedRelease id.
	ID string
	// State is one of the Phased* states.
	State string
	// StartDate is when phasing began (zero before release).
	StartDate time.Time
	// CurrentDayNumber is the day of the release, 1-7 (0 before it starts).
	CurrentDayNumber int
	// TotalPauseDuration is the pause time used, as the store reports it
	// (the unit is undocumented; the fake reports days). At most 30 days.
	TotalPauseDuration int
}

// Percent is the share of automatic-update users the release reaches on
// its current day (Apple: 1, 2, 5, 10, 20, 50, 100 %); 100 once COMPLETE.
func (p PhasedRelease) Percent() int {
	if p.State == PhasedComplete {
		return 100
	}
	percents := [...]int{1, 2, 5, 10, 20, 50, 100}
	if p.CurrentDayNumber < 1 || p.CurrentDayNumber > len(percents) {
		return 0
	}
	return percents[p.CurrentDayNumber-1]
}

func phasedFrom(r resource) (*PhasedRelease, error) {
	var a struct {
		State              string    `json:"phasedReleaseState"`
		StartDate          time.Time `json:"startDate"`
		CurrentDayNumber   int       `json:"currentDayNumber"`
		TotalPauseDuration int       `json:"totalPauseDuration"`
	}
	if err := json.Unmarshal(r.Attributes, &a); err != nil {
		return nil, fmt.Errorf("decode phased release %s: %w", r.ID, err)
	}
	return &PhasedRelease{ID: r.ID, State: a.State, StartDate: a.StartDate, CurrentDayNumber: a.CurrentDayNumber, TotalPauseDuration: a.TotalPauseDuration}, nil
}

// GetPhasedRelease reads the version's phased release; a version without
// one gives an *Error matching ErrNotFound.
func (c *Client) GetPhasedRelease(ctx context.Context, versionID string) (*PhasedRelease, error) {
	var r resource
	if err := c.getOne(ctx, "get phased release", "/v1/appStoreVersions/"+url.PathEscape(versionID)+"/appStoreVersionPhasedRelease", &r, nil); err != nil {
		return nil, err
	}
	return phasedFrom(r)
}

// EnablePhasedRelease chooses phased release for a version not yet
// released (it starts when the version is released), or returns the
// existing one. Not available for an app's first version.
func (c *Client) EnablePhasedRelease(ctx context.Context, versionID string) (*PhasedRelease, error) {
	const op = "enable phased release"
	var out *PhasedRelease
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		p, err := c.GetPhasedRelease(ctx, versionID)
		if err == nil {
			out = p
			return nil
		}
		if !isNotFound(err) {
			return err
		}
		doc := map[string]any{"data": map[string]any{"type": "appStoreVersionPhasedReleases",
			"attributes":    map[string]any{"phasedReleaseState": PhasedInactive},
			"relationships": map[string]any{"appStoreVersion": toOne("appStoreVersions", versionID)}}}
		var r resource
		if err := c.send(ctx, op, http.MethodPost, "/v1/appStoreVersionPhasedReleases", doc, &r); err != nil {
			return err
		}
		out, err = phasedFrom(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appstore version %s: %w", versionID, err)
	}
	return out, nil
}

// PausePhasedRelease pauses the version's running phased release (the
// 30-day pause budget is the store's); already paused is fine.
func (c *Client) PausePhasedRelease(ctx context.Context, versionID string) (*PhasedRelease, error) {
	return c.setPhased(ctx, "pause phased release", versionID, PhasedPaused)
}

// ResumePhasedRelease resumes a paused phased release from its day;
// already active is fine.
func (c *Client) ResumePhasedRelease(ctx context.Context, versionID string) (*PhasedRelease, error) {
	return c.setPhased(ctx, "resume phased release", versionID, PhasedActive)
}

// CompletePhasedRelease releases the version to every user now; already
// complete is fine.
func (c *Client) CompletePhasedRelease(ctx context.Context, versionID string) (*PhasedRelease, error) {
	return c.setPhased(ctx, "complete phased release", versionID, PhasedComplete)
}

func (c *Client) setPhased(ctx context.Context, op, versionID, want string) (*PhasedRelease, error) {
	var out *PhasedRelease
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		p, err := c.GetPhasedRelease(ctx, versionID)
		if err != nil {
			return err
		}
		switch {
		case p.State == want:
			out = p
			return nil
		case p.State == PhasedComplete:
			return stateError(op, ErrWrongState, "The phased release is COMPLETE: every user has the version.", "nothing left to change")
		case p.State == PhasedInactive:
			return stateError(op, ErrWrongState, "The phased release has not started: it starts when the version is released.", "release the version first")
		}
		doc := map[string]any{"data": map[string]any{"type": "appStoreVersionPhasedReleases", "id": p.ID,
			"attributes": map[string]any{"phasedReleaseState": want}}}
		var r resource
		if err := c.send(ctx, op, http.MethodPatch, "/v1/appStoreVersionPhasedReleases/"+url.PathEscape(p.ID), doc, &r); err != nil {
			return err
		}
		out, err = phasedFrom(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appstore version %s: %w", versionID, err)
	}
	return out, nil
}
