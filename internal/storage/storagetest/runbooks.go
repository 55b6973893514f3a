package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/storage"
)

// testRunbooks checks runbook versions (the current set leaves out removed
// runbooks and older versions), confirmation, gate versions, rehearsals with
// their optimistic revision, release changes, approvals (unique per item,
// role and person), decisions and trigger firings (claimed once).
func testRunbooks(t *testing.T, h Harness) {
	ctx := context.Background()
	s := migrated(t, h)
	shop, other := createApp(t, s, "shop"), createApp(t, s, "other")

	version := func(app int64, id, hash string, removed bool) *storage.RunbookVersion {
		t.Helper()
		v := &storage.RunbookVersion{AppID: app, RunbookID: id, Flow: id, Title: "T " + id, Content: "---\nid: " + id + "\n", ContentHash: hash,
			GitSHA: "abc123", Removed: removed, PushedBy: "token:ci", PushedAt: t0}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RunbookVersionCreate(ctx, v) })
		require.NotZero(t, v.ID)
		return v
	}
	a1 := version(shop.ID, "exam-submit", sha(1), false)
	a2 := version(shop.ID, "exam-submit", sha(2), false)
	version(shop.ID, "login", sha(3), false)
	version(shop.ID, "login", "", true)
	version(shop.ID, "checkout", sha(4), false)
	version(other.ID, "exam-submit", sha(5), false)

	cur, err := s.RunbookCurrentList(ctx, shop.ID)
	require.NoError(t, err)
	require.Len(t, cur, 2, "login was removed by the last push")
	require.Equal(t, "checkout", cur[0].RunbookID)
	require.Equal(t, a2.ID, cur[1].ID, "the newest version is current")
	require.Equal(t, *a2, cur[1], "every field round-trips")

	all, err := s.RunbookVersionList(ctx, shop.ID, "exam-submit")
	require.NoError(t, err)
	require.Equal(t, []int64{a2.ID, a1.ID}, []int64{all[0].ID, all[1].ID})

	inTx(t, s, func(ctx context.Context, tx storage.Tx) error {
		return tx.RunbookVersionConfirm(ctx, a2.ID, `{"flag":60}`)
	})
	got, err := s.RunbookVersionGet(ctx, shop.ID, a2.ID)
	require.NoError(t, err)
	require.Equal(t, `{"flag":60}`, got.Confirmed)
	_, err = s.RunbookVersionGet(ctx, other.ID, a2.ID)
	require.ErrorIs(t, err, storage.ErrNotFound, "versions are per app")
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RunbookVersionConfirm(ctx, 9999, "{}") })
	require.ErrorIs(t, err, storage.ErrNotFound)

	_, err = s.GateVersionLatest(ctx, shop.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	for i, c := range []string{"items: []", "items: [a]"} {
		g := &storage.GateVersion{AppID: shop.ID, Content: c, ContentHash: sha(10 + i), GitSHA: "abc", PushedBy: "token:ci", PushedAt: t0}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.GateVersionCreate(ctx, g) })
	}
	g, err := s.GateVersionLatest(ctx, shop.ID)
	require.NoError(t, err)
	require.Equal(t, "items: [a]", g.Content)

	// Rehearsals: create, update over the read revision, refuse a stale one.
	r := &storage.Rehearsal{AppID: shop.ID, RunbookVersionID: a2.ID, RunbookID: "exam-submit", ContentHash: sha(2), Env: "staging",
		State: storage.RehearsalRunning, Record: `{}`, StartedBy: "user:ana@example.com", StartedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RehearsalCreate(ctx, r) })
	stale := *r
	r.Record, r.State, r.Outcome, r.Result, r.FinishedAt = `{"steps":[1]}`, storage.RehearsalFinished, "ok", "Rollback rehearsed", t0.Add(time.Minute)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RehearsalUpdate(ctx, r) })
	require.Equal(t, int64(1), r.Revision)
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RehearsalUpdate(ctx, &stale) })
	require.ErrorIs(t, err, storage.ErrConflict, "an update over an old revision must not overwrite a newer one")
	hr, err := s.RehearsalGet(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, *r, *hr)
	missing := storage.Rehearsal{ID: 9999}
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.RehearsalUpdate(ctx, &missing) })
	require.ErrorIs(t, err, storage.ErrNotFound)
	r2 := &storage.Rehearsal{AppID: shop.ID, RunbookVersionID: a2.ID, RunbookID: "exam-submit", ContentHash: sha(2), Env: "staging",
		State: storage.RehearsalRunning, Record: `{}`, StartedBy: "x", StartedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.RehearsalCreate(ctx, r2) })
	list, err := s.RehearsalList(ctx, shop.ID, "exam-submit")
	require.NoError(t, err)
	require.Equal(t, []int64{r2.ID, r.ID}, []int64{list[0].ID, list[1].ID})
	require.True(t, list[0].FinishedAt.IsZero())
	list, err = s.RehearsalList(ctx, shop.ID, "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	list, err = s.RehearsalList(ctx, shop.ID, "login")
	require.NoError(t, err)
	require.Empty(t, list)

	// Release changes replace an earlier report.
	_, err = s.ReleaseChangesGet(ctx, shop.ID, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
	for _, paths := range [][]string{{"a/b.swift"}, {"ios/Features/ExamSubmit/View.swift", "README.md"}} {
		c := &storage.ReleaseChanges{AppID: shop.ID, Version: "1.2.0", Paths: paths, Source: "git v1..HEAD", RecordedBy: "token:ci", RecordedAt: t0}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.ReleaseChangesPut(ctx, c) })
	}
	ch, err := s.ReleaseChangesGet(ctx, shop.ID, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []string{"ios/Features/ExamSubmit/View.swift", "README.md"}, ch.Paths)
	require.Equal(t, []string{}, ch.Flags)

	// Approvals are unique per item, role and person.
	ap := &storage.GateApproval{AppID: shop.ID, Version: "1.2.0", ItemID: "approvals", Role: "qa-lead", Actor: "user:qa@example.com", Evidence: "ok", ApprovedAt: t0}
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.GateApprovalCreate(ctx, ap) })
	dup := *ap
	err = s.InTx(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.GateApprovalCreate(ctx, &dup) })
	require.ErrorIs(t, err, storage.ErrConflict)
	aps, err := s.GateApprovalList(ctx, shop.ID, "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []storage.GateApproval{*ap}, aps)

	// Decisions: the newest counts.
	_, err = s.GateDecisionLatest(ctx, shop.ID, "1.2.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
	for i, goNow := range []bool{false, true} {
		d := &storage.GateDecision{AppID: shop.ID, Version: "1.2.0", Go: goNow, Items: "[]", ItemsHash: sha(20 + i), GateHash: sha(11), DecidedBy: "token:rm", DecidedAt: t0}
		inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.GateDecisionAppend(ctx, d) })
	}
	d, err := s.GateDecisionLatest(ctx, shop.ID, "1.2.0")
	require.NoError(t, err)
	require.True(t, d.Go)
	require.Equal(t, sha(21), d.ItemsHash)

	// Trigger firings: of concurrent claims exactly one wins.
	f := storage.TriggerFiring{AppID: shop.ID, Platform: "android", Version: "1.2.0", RunbookID: "exam-submit", TriggerID: "T1", FiredAt: t0}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ok bool
			err := s.InTx(ctx, func(ctx context.Context, tx storage.Tx) (err error) {
				ok, err = tx.TriggerFiringClaim(ctx, f)
				return err
			})
			if assertNoError(t, err) && ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, won)
	f.IncidentID = 7
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.TriggerFiringSetIncident(ctx, f) })
	fs, err := s.TriggerFiringList(ctx, shop.ID, "android", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []storage.TriggerFiring{f}, fs)
	fs, err = s.TriggerFiringList(ctx, shop.ID, "ios", "1.2.0")
	require.NoError(t, err)
	require.Empty(t, fs)
	inTx(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.TriggerFiringDelete(ctx, f) })
	var again bool
	inTx(t, s, func(ctx context.Context, tx storage.Tx) (err error) {
		again, err = tx.TriggerFiringClaim(ctx, f)
		return err
	})
	require.True(t, again, "a forgotten firing can be claimed again")
}
