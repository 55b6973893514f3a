package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/play"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// actionLiveUnknown is the audit action recording that a preparation found
// no live build to re-sign; Status reads it back.
const actionLiveUnknown = "rollback." + string(ripcord.RollbackLiveUnknown)

// discoverLive finds the build live in production: the one Ripcord holds for
// the highest versionCode of the production track's completed release. When
// there is none it records why (audited, once per reason) and returns a
// RollbackLiveUnknown report instead of a build; preparing again retries.
func (p *Preparer) discoverLive(ctx context.Context, pl Play, app *ripcord.App, target string) (*ripcord.Build, *ripcord.RollbackBuild, error) {
	if err := p.checkTarget(ctx, app, target); err != nil {
		return nil, nil, err
	}
	if pl == nil {
		return nil, nil, errNoPlay
	}
	t, err := pl.GetTrack(ctx, app.AndroidPackage, play.TrackProduction)
	if err != nil {
		return nil, nil, fmt.Errorf("read Play's production track: %w", err)
	}
	var live int64
	for _, r := range t.Releases {
		if r.Status != play.StatusCompleted {
			continue
		}
		for _, vc := range r.VersionCodes {
			live = max(live, vc)
		}
	}
	if live == 0 {
		return p.liveUnknown(ctx, app, ripcord.Android, target, fmt.Sprintf(
			"Play has no completed release on the production track of %s, so there is no live build to roll back to; prepare again once one is completed",
			app.AndroidPackage))
	}
	b, err := p.store.BuildGetByIdentity(ctx, storage.BuildIdentityParams{AppID: app.ID, Platform: ripcord.Android, BuildNumber: strconv.FormatInt(live, 10)})
	if errors.Is(err, storage.ErrNotFound) {
		return p.liveUnknown(ctx, app, ripcord.Android, target, fmt.Sprintf(
			"Play's production track serves versionCode %d, which Ripcord does not hold; upload that APK with `ripcord build upload --app %s --platform android --file FILE` and prepare again with `ripcord release rollback-build %s %s --prepare`",
			live, app.Name, app.Name, target))
	}
	if err != nil {
		return nil, nil, err
	}
	if prev, err := p.supersededSource(ctx, app, ripcord.Android, target, b); err != nil || prev != nil {
		return prev, nil, err
	}
	return b, nil, nil
}

// supersededSource handles a re-preparation once the target itself is
// live (Play keeps only the newest completed release on the track): when
// the live build is the target or newer, the rollback still returns to
// what the superseded rollback re-signed. Nil when live is older than the
// target or nothing was superseded.
func (p *Preparer) supersededSource(ctx context.Context, app *ripcord.App, platform ripcord.Platform, target string, live *ripcord.Build) (*ripcord.Build, error) {
	lv, err1 := ripcord.ParseVersion(live.Version)
	tv, err2 := ripcord.ParseVersion(target)
	if err1 != nil || err2 != nil || lv.Compare(tv) < 0 {
		return nil, nil
	}
	old, err := p.store.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: app.ID, Platform: platform, TargetVersion: target, Superseded: true})
	if err != nil || len(old) == 0 {
		return nil, err
	}
	b, err := p.store.BuildGetByID(ctx, old[len(old)-1].SourceBuildID)
	if err != nil {
		return nil, fmt.Errorf("read the source build of superseded rollback build %d: %w", old[len(old)-1].ID, err)
	}
	return b, nil
}

// checkTarget returns an ENOTFOUND error when the target release does not
// exist.
func (p *Preparer) checkTarget(ctx context.Context, app *ripcord.App, target string) error {
	if _, err := p.store.ReleaseGetByVersion(ctx, app.ID, target); errors.Is(err, storage.ErrNotFound) {
		return ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s to prepare a rollback for; create it with `ripcord release create %s %s`",
			app.Name, target, app.Name, target)
	} else if err != nil {
		return err
	}
	return nil
}

// liveUnknown records (unless the latest record already says so) and
// returns a RollbackLiveUnknown report.
func (p *Preparer) liveUnknown(ctx context.Context, app *ripcord.App, platform ripcord.Platform, target, reason string) (*ripcord.Build, *ripcord.RollbackBuild, error) {
	now := p.clock()
	rb := &ripcord.RollbackBuild{AppID: app.ID, Platform: platform, TargetVersion: target, State: ripcord.RollbackLiveUnknown,
		Reason: reason, CreatedAt: now, UpdatedAt: now}
	last, err := latestLiveUnknown(ctx, p.store, app, platform, target)
	if err != nil {
		return nil, nil, err
	}
	if last != nil && last.Reason == reason {
		return nil, last, nil
	}
	after := map[string]any{"state": string(rb.State), "reason": reason}
	err = p.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, actionLiveUnknown, auditTarget(app, rb), nil, after))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("record that the live build of %s is unknown: %w", app.Name, err)
	}
	p.logger.WarnContext(ctx, "rollback build waits for the live build", "app", app.Name, "platform", string(platform), "target", target, "reason", reason)
	return nil, rb, nil
}

// latestLiveUnknown returns the live-unknown report recorded last for a
// target when it is the target's latest rollback audit entry, or nil.
func latestLiveUnknown(ctx context.Context, q storage.Queries, app *ripcord.App, platform ripcord.Platform, target string) (*ripcord.RollbackBuild, error) {
	at := auditTarget(app, &ripcord.RollbackBuild{Platform: platform, TargetVersion: target})
	var last *ripcord.AuditEntry
	for after := int64(0); ; {
		page, err := q.AuditList(ctx, storage.AuditListParams{AfterSeq: after, Target: at})
		if err != nil {
			return nil, fmt.Errorf("read rollback audit entries of %s: %w", at, err)
		}
		if len(page) == 0 {
			break
		}
		last, after = &page[len(page)-1], page[len(page)-1].Seq
	}
	if last == nil || last.Action != actionLiveUnknown {
		return nil, nil
	}
	var rec struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(last.After), &rec); err != nil {
		return nil, fmt.Errorf("read audit entry %d: %w", last.Seq, err)
	}
	return &ripcord.RollbackBuild{AppID: app.ID, Platform: platform, TargetVersion: target, State: ripcord.RollbackLiveUnknown,
		Reason: rec.Reason, CreatedAt: last.At, UpdatedAt: last.At}, nil
}

// Status reports a target release's rollback build on a platform: the
// prepared row, else a RollbackLiveUnknown report when the last preparation
// found no live build, else a RollbackPending one. It returns an ENOTFOUND
// error when the app or the release does not exist.
func Status(ctx context.Context, q storage.Queries, appName string, platform ripcord.Platform, target string) (*ripcord.App, *ripcord.RollbackBuild, error) {
	app, err := q.AppGetByName(ctx, appName)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %q does not exist; `ripcord app list` shows the apps", appName)
	} else if err != nil {
		return nil, nil, err
	}
	if _, err := q.ReleaseGetByVersion(ctx, app.ID, target); errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ripcord.Errorf(ripcord.ENOTFOUND, "app %s has no release %s; create it with `ripcord release create %s %s`", app.Name, target, app.Name, target)
	} else if err != nil {
		return nil, nil, err
	}
	rb, err := q.RollbackBuildGet(ctx, app.ID, platform, target)
	if err == nil {
		return app, rb, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, nil, err
	}
	if rb, err = latestLiveUnknown(ctx, q, app, platform, target); err != nil || rb != nil {
		return app, rb, err
	}
	// A retired rollback whose fresh preparation has no row yet: show it,
	// with the reason it was retired.
	old, err := q.RollbackBuildList(ctx, storage.RollbackBuildListParams{AppID: app.ID, Platform: platform, TargetVersion: target, Superseded: true})
	if err != nil {
		return nil, nil, err
	}
	if len(old) > 0 {
		return app, old[len(old)-1], nil
	}
	return app, &ripcord.RollbackBuild{AppID: app.ID, Platform: platform, TargetVersion: target, State: ripcord.RollbackPending,
		Reason: fmt.Sprintf("no rollback build has been prepared yet; `ripcord release rollback-build %s %s --prepare` queues its preparation", app.Name, target)}, nil
}
