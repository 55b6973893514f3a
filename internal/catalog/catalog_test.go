package catalog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/blob"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/sqlite"
	"github.com/ripcordhq/ripcord/internal/storage"
)

type testBundle struct {
	ctx         context.Context // acting as admin "token:ci"
	svc         *catalog.Service
	db          *sqlite.DB
	artifacts   *blob.Store
	artifactDir string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupConfig(t, func(*catalog.Config) {})
}

// setupConfig opens a migrated SQLite database and an artifact directory in
// temporary directories and builds the service on them; edit may change the
// config before the service is built.
func setupConfig(t *testing.T, edit func(cfg *catalog.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx, storage.MigrateUp, storage.MigrateLatest)
	require.NoError(t, err)

	dir := t.TempDir()
	artifacts, err := blob.Open(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { artifacts.Close() })

	cfg := catalog.Config{Store: db, Artifacts: artifacts}
	edit(&cfg)
	return &testBundle{
		ctx:         ripcord.NewContextWithActor(ctx, ripcord.Actor{Name: "token:ci", Role: ripcord.RoleAdmin}),
		svc:         catalog.New(cfg),
		db:          db,
		artifacts:   artifacts,
		artifactDir: dir,
	}
}

// as returns a context acting with role, named after it.
func as(role ripcord.Role) context.Context {
	return ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:" + string(role), Role: role})
}

// createApp registers "shop" on both platforms.
func (tb *testBundle) createApp(t *testing.T) *ripcord.App {
	t.Helper()
	a, err := tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"})
	require.NoError(t, err)
	return a
}

// upload uploads body as a build of "shop" and requires it to succeed.
func (tb *testBundle) upload(t *testing.T, p ripcord.Platform, version, buildNumber string, body []byte) *ripcord.Build {
	t.Helper()
	b, created, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
		App: "shop", Platform: p, Version: version, BuildNumber: buildNumber, Body: bytes.NewReader(body),
	})
	require.NoError(t, err)
	require.True(t, created)
	return b
}

// files lists every file in the artifact directory, temporary ones included.
func (tb *testBundle) files(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(tb.artifactDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(tb.artifactDir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	return out
}

func (tb *testBundle) builds(t *testing.T) []*ripcord.Build {
	t.Helper()
	bs, err := tb.svc.BuildList(tb.ctx, catalog.BuildListParams{App: "shop"})
	require.NoError(t, err)
	return bs
}

func (tb *testBundle) audit(t *testing.T) []ripcord.AuditEntry {
	t.Helper()
	es, err := tb.db.AuditList(context.Background(), storage.AuditListParams{})
	require.NoError(t, err)
	return es
}

func actions(es []ripcord.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// countingReader records how many bytes were read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// failingReader hands out n bytes, then fails like a client that hung up.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, ripcord.ErrorCode(err), "error: %v", err)
}

func TestRolesEnforced(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	existing := tb.upload(t, ripcord.Android, "1.0.0", "100", []byte("apk 100"))
	_, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.0.0")
	require.NoError(t, err)

	body := &countingReader{r: bytes.NewReader([]byte("apk 200"))}
	tests := []struct {
		name string
		need ripcord.Role
		call func(ctx context.Context) error
	}{
		{"AppCreate", ripcord.RoleAdmin, func(ctx context.Context) error {
			_, err := tb.svc.AppCreate(ctx, ripcord.App{Name: "other", AndroidPackage: "com.acme.other"})
			return err
		}},
		{"AppGet", ripcord.RoleViewer, func(ctx context.Context) error { _, err := tb.svc.AppGet(ctx, "shop"); return err }},
		{"AppList", ripcord.RoleViewer, func(ctx context.Context) error { _, err := tb.svc.AppList(ctx); return err }},
		{"BuildUpload", ripcord.RoleEngineer, func(ctx context.Context) error {
			_, _, err := tb.svc.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "2.0.0", BuildNumber: "200", Body: body})
			return err
		}},
		{"BuildList", ripcord.RoleViewer, func(ctx context.Context) error {
			_, err := tb.svc.BuildList(ctx, catalog.BuildListParams{App: "shop"})
			return err
		}},
		{"BuildGet", ripcord.RoleViewer, func(ctx context.Context) error { _, err := tb.svc.BuildGet(ctx, "shop", existing.ID); return err }},
		{"ReleaseCreate", ripcord.RoleReleaseManager, func(ctx context.Context) error {
			_, err := tb.svc.ReleaseCreate(ctx, "shop", "3.0.0")
			return err
		}},
		{"ReleaseGet", ripcord.RoleViewer, func(ctx context.Context) error { _, err := tb.svc.ReleaseGet(ctx, "shop", "1.0.0"); return err }},
		{"ReleaseList", ripcord.RoleViewer, func(ctx context.Context) error { _, err := tb.svc.ReleaseList(ctx, "shop"); return err }},
	}
	roles := []ripcord.Role{ripcord.RoleViewer, ripcord.RoleEngineer, ripcord.RoleReleaseManager, ripcord.RoleAdmin}
	for _, tc := range tests { // sequential: the cases share one database
		t.Run(tc.name, func(t *testing.T) {
			entries := len(tb.audit(t))
			requireCode(t, ripcord.EUNAUTHORIZED, tc.call(context.Background()))
			for _, r := range roles {
				if r.Allows(tc.need) {
					continue
				}
				err := tc.call(as(r))
				requireCode(t, ripcord.EFORBIDDEN, err)
				require.Contains(t, ripcord.ErrorMessage(err), "needs the "+string(tc.need)+" role")
			}
			// Refused calls changed nothing: no app, build, release or audit entry.
			require.Len(t, tb.audit(t), entries)
			// The lowest allowed role succeeds.
			require.NoError(t, tc.call(as(tc.need)))
		})
	}

	t.Run("ViewerCannotUpload", func(t *testing.T) {
		before := tb.files(t)
		r := &countingReader{r: bytes.NewReader([]byte("apk 300"))}
		_, _, err := tb.svc.BuildUpload(as(ripcord.RoleViewer), catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "3.0.0", BuildNumber: "300", Body: r,
		})
		requireCode(t, ripcord.EFORBIDDEN, err)
		require.Zero(t, r.n, "a refused upload is not read")
		require.Equal(t, before, tb.files(t))
		require.Len(t, tb.builds(t), 2, "only 100 and the engineer's 200 are stored")
	})
}

func TestAppCreate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		a, err := tb.svc.AppCreate(tb.ctx, ripcord.App{ID: 99, Name: "shop", IOSBundleID: "com.acme.shop"})
		require.NoError(t, err)
		require.NotZero(t, a.ID)
		require.NotEqual(t, int64(99), a.ID, "the caller does not choose the ID")
		require.False(t, a.CreatedAt.IsZero())
		require.Equal(t, a.CreatedAt, a.UpdatedAt)

		got, err := tb.svc.AppGet(as(ripcord.RoleViewer), "shop")
		require.NoError(t, err)
		require.Equal(t, a, got)

		list, err := tb.svc.AppList(as(ripcord.RoleViewer))
		require.NoError(t, err)
		require.Equal(t, []*ripcord.App{a}, list)

		es := tb.audit(t)
		require.Len(t, es, 1)
		require.Equal(t, "app.create", es[0].Action)
		require.Equal(t, "app/shop", es[0].Target)
		require.Equal(t, "token:ci", es[0].Actor)
		require.Empty(t, es[0].Before)
		require.JSONEq(t, `{"name":"shop","ios_bundle_id":"com.acme.shop","android_package":""}`, es[0].After)
	})

	t.Run("SentryProjects", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		both, err := tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"})
		require.NoError(t, err)
		ios, err := tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "pad", IOSBundleID: "com.acme.pad"})
		require.NoError(t, err)
		ps, err := tb.db.SentryProjectList(context.Background(), both.ID)
		require.NoError(t, err)
		require.Len(t, ps, 2, "one project per platform")
		require.Equal(t, ripcord.Android, ps[0].Platform)
		require.Equal(t, ripcord.IOS, ps[1].Platform)
		require.Regexp(t, `^[0-9a-f]{32}$`, ps[0].PublicKey)
		require.NotEqual(t, ps[0].PublicKey, ps[1].PublicKey)
		ps, err = tb.db.SentryProjectList(context.Background(), ios.ID)
		require.NoError(t, err)
		require.Len(t, ps, 1)
		require.Equal(t, ripcord.IOS, ps[0].Platform)

		// A failed create leaves no project behind.
		_, err = tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "shop", AndroidPackage: "com.acme.other"})
		require.Error(t, err)
		all, err := tb.db.SentryProjectList(context.Background(), 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		for _, a := range []ripcord.App{
			{Name: "Shop", AndroidPackage: "com.acme.shop"},
			{Name: "shop"},
			{Name: "shop", AndroidPackage: "shop"},
		} {
			_, err := tb.svc.AppCreate(tb.ctx, a)
			requireCode(t, ripcord.EINVALID, err)
		}
		list, err := tb.svc.AppList(tb.ctx)
		require.NoError(t, err)
		require.Empty(t, list)
		require.Empty(t, tb.audit(t))
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		tests := []struct {
			name string
			app  ripcord.App
			msg  string
		}{
			{"Name", ripcord.App{Name: "shop", AndroidPackage: "com.acme.other"}, `app "shop" already exists`},
			{"BundleID", ripcord.App{Name: "shop2", IOSBundleID: "com.acme.shop"}, `iOS bundle id com.acme.shop already belongs to app "shop"`},
			{"Package", ripcord.App{Name: "shop3", IOSBundleID: "com.acme.other", AndroidPackage: "com.acme.shop"}, `Android package com.acme.shop already belongs to app "shop"`},
		}
		for _, tc := range tests {
			_, err := tb.svc.AppCreate(tb.ctx, tc.app)
			requireCode(t, ripcord.ECONFLICT, err)
			require.Contains(t, ripcord.ErrorMessage(err), tc.msg, tc.name)
		}
		list, err := tb.svc.AppList(tb.ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, []string{"app.create"}, actions(tb.audit(t)), "failed creates are not audited")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, err := tb.svc.AppGet(tb.ctx, "nope")
		requireCode(t, ripcord.ENOTFOUND, err)
		require.Contains(t, ripcord.ErrorMessage(err), `app "nope" does not exist`)
	})
}

func TestBuildUpload(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		app := tb.createApp(t)
		data := bytes.Repeat([]byte("apk bytes "), 10000)
		b, created, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", SourceCommit: "abc123", Body: bytes.NewReader(data),
		})
		require.NoError(t, err)
		require.True(t, created)
		require.NotZero(t, b.ID)
		require.Equal(t, app.ID, b.AppID)
		require.Equal(t, sum(data), b.SHA256)
		require.Equal(t, int64(len(data)), b.Size)
		require.Equal(t, "token:ci", b.UploadedBy)
		require.Equal(t, "abc123", b.SourceCommit)

		// The row is stored as returned.
		got, err := tb.svc.BuildGet(tb.ctx, "shop", b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got)

		// The blob holds the bytes, and it is the only file.
		require.Equal(t, []string{b.BlobKey}, tb.files(t))
		r, err := tb.artifacts.Open(context.Background(), b.BlobKey)
		require.NoError(t, err)
		stored, err := io.ReadAll(r)
		require.NoError(t, r.Close())
		require.NoError(t, err)
		require.Equal(t, data, stored)

		es := tb.audit(t)
		require.Equal(t, []string{"app.create", "build.upload"}, actions(es))
		require.Equal(t, "token:ci", es[1].Actor)
		require.Contains(t, es[1].After, sum(data))
	})

	t.Run("OKIdempotent", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		data := []byte("the same apk")
		first := tb.upload(t, ripcord.Android, "1.2.0", "120", data)

		again, created, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(data),
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first, again)
		require.Equal(t, []string{first.BlobKey}, tb.files(t), "the second copy is not kept")
		require.Len(t, tb.builds(t), 1)
		require.Equal(t, []string{"app.create", "build.upload"}, actions(tb.audit(t)))
	})

	t.Run("ErrSameVersionCodeOtherBytes", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		first := tb.upload(t, ripcord.Android, "1.2.0", "120", []byte("first apk"))

		// Play identifies a build by versionCode alone, whatever the version.
		for _, version := range []string{"1.2.0", "1.3.0"} {
			_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
				App: "shop", Platform: ripcord.Android, Version: version, BuildNumber: "120", Body: bytes.NewReader([]byte("other apk")),
			})
			requireCode(t, ripcord.ECONFLICT, err)
			require.Contains(t, ripcord.ErrorMessage(err), "versionCode 120 is taken; raise the build number")
			require.Equal(t, first.ID, ripcord.ErrorDetails(err)["existing_build_id"])
		}
		require.Equal(t, []string{first.BlobKey}, tb.files(t), "the rejected upload left no blob")
		require.Equal(t, []*ripcord.Build{first}, tb.builds(t))
		require.Equal(t, []string{"app.create", "build.upload"}, actions(tb.audit(t)))
	})

	t.Run("ErrSameBytesOtherBuildNumber", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		data := []byte("one ipa")
		first := tb.upload(t, ripcord.IOS, "1.2.0", "5", data)
		_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "6", Body: bytes.NewReader(data),
		})
		requireCode(t, ripcord.ECONFLICT, err)
		require.Contains(t, ripcord.ErrorMessage(err), "already uploaded as ios build 1.2.0 (5)")
		require.Equal(t, []string{first.BlobKey}, tb.files(t))
		require.Len(t, tb.builds(t), 1)
	})

	t.Run("OKSameBytesOtherPlatform", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		tb.upload(t, ripcord.IOS, "1.2.0", "5", []byte("same"))
		tb.upload(t, ripcord.Android, "1.2.0", "5", []byte("same"))
		require.Len(t, tb.builds(t), 2)
		require.Len(t, tb.files(t), 2)
	})

	t.Run("OKIOSBuildNumberUnderNewVersion", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		tb.upload(t, ripcord.IOS, "1.2.0", "1", []byte("ipa 1.2.0"))
		tb.upload(t, ripcord.IOS, "1.3.0", "1", []byte("ipa 1.3.0"))
		require.Len(t, tb.builds(t), 2)
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		tb := setupConfig(t, func(cfg *catalog.Config) { cfg.MaxArtifactBytes = 10 })
		tb.createApp(t)
		require.Equal(t, int64(10), tb.svc.MaxArtifactBytes())
		_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(make([]byte, 11)),
		})
		requireCode(t, ripcord.ETOOLARGE, err)
		require.Contains(t, ripcord.ErrorMessage(err), "10-byte limit")
		require.Equal(t, int64(10), ripcord.ErrorDetails(err)["limit_bytes"])
		require.Empty(t, tb.files(t))
		require.Empty(t, tb.builds(t))
		require.Equal(t, []string{"app.create"}, actions(tb.audit(t)))

		// Exactly the limit is accepted.
		b := tb.upload(t, ripcord.Android, "1.2.0", "120", make([]byte, 10))
		require.Equal(t, int64(10), b.Size)
	})

	t.Run("ErrReaderFails", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: &failingReader{n: 200000},
		})
		require.ErrorContains(t, err, "connection reset by peer")
		require.Equal(t, ripcord.EINTERNAL, ripcord.ErrorCode(err))
		require.Empty(t, tb.files(t), "no partial or temporary file stays")
		require.Empty(t, tb.builds(t))
		require.Equal(t, []string{"app.create"}, actions(tb.audit(t)))

		// The identity is still free.
		tb.upload(t, ripcord.Android, "1.2.0", "120", []byte("complete"))
	})

	t.Run("ErrEmptyBody", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", Body: bytes.NewReader(nil),
		})
		requireCode(t, ripcord.EINVALID, err)
		require.Contains(t, ripcord.ErrorMessage(err), "artifact is empty")
		require.Empty(t, tb.files(t))
		require.Empty(t, tb.builds(t))
	})

	t.Run("ErrPlatformNotOnApp", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, err := tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "shop", AndroidPackage: "com.acme.shop"})
		require.NoError(t, err)
		r := &countingReader{r: bytes.NewReader([]byte("ipa"))}
		_, _, err = tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "shop", Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "1", Body: r,
		})
		requireCode(t, ripcord.EINVALID, err)
		require.Contains(t, ripcord.ErrorMessage(err), `app "shop" is not registered on ios`)
		require.Zero(t, r.n)
		require.Empty(t, tb.files(t))
		require.Empty(t, tb.builds(t))
	})

	t.Run("ErrBadIdentityBeforeStoring", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		for _, p := range []catalog.BuildUploadParams{
			{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "0"},
			{App: "shop", Platform: ripcord.Android, Version: "1.2.0.0", BuildNumber: "120"},
			{App: "shop", Platform: ripcord.IOS, Version: "1.2.0", BuildNumber: "1.2.3.4"},
			{App: "shop", Platform: ripcord.Platform("windows"), Version: "1.2.0", BuildNumber: "1"},
			{App: "shop", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "120", SourceCommit: string(make([]byte, 101))},
		} {
			r := &countingReader{r: bytes.NewReader([]byte("bytes"))}
			p.Body = r
			_, _, err := tb.svc.BuildUpload(tb.ctx, p)
			requireCode(t, ripcord.EINVALID, err)
			require.Zero(t, r.n, "%+v: the body is not read when the identity is bad", p)
		}
		require.Empty(t, tb.files(t))
		require.Empty(t, tb.builds(t))
	})

	t.Run("ErrUnknownApp", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, _, err := tb.svc.BuildUpload(tb.ctx, catalog.BuildUploadParams{
			App: "nope", Platform: ripcord.Android, Version: "1.2.0", BuildNumber: "1", Body: bytes.NewReader([]byte("x")),
		})
		requireCode(t, ripcord.ENOTFOUND, err)
		require.Empty(t, tb.files(t))
	})
}

func TestBuildListAndGet(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	a120 := tb.upload(t, ripcord.Android, "1.2.0", "120", []byte("a120"))
	i5 := tb.upload(t, ripcord.IOS, "1.2.0", "5", []byte("i5"))
	a130 := tb.upload(t, ripcord.Android, "1.3.0", "130", []byte("a130"))

	list := func(p catalog.BuildListParams) []*ripcord.Build {
		t.Helper()
		p.App = "shop"
		bs, err := tb.svc.BuildList(tb.ctx, p)
		require.NoError(t, err)
		return bs
	}
	require.Equal(t, []*ripcord.Build{a130, i5, a120}, list(catalog.BuildListParams{}), "newest first")
	require.Equal(t, []*ripcord.Build{a130, a120}, list(catalog.BuildListParams{Platform: ripcord.Android}))
	require.Equal(t, []*ripcord.Build{i5, a120}, list(catalog.BuildListParams{Version: "1.2.0"}))
	require.Equal(t, []*ripcord.Build{a130}, list(catalog.BuildListParams{Limit: 1}))

	_, err := tb.svc.BuildList(tb.ctx, catalog.BuildListParams{App: "shop", Platform: "windows"})
	requireCode(t, ripcord.EINVALID, err)
	_, err = tb.svc.BuildList(tb.ctx, catalog.BuildListParams{App: "shop", Limit: 1001})
	requireCode(t, ripcord.EINVALID, err)
	_, err = tb.svc.BuildList(tb.ctx, catalog.BuildListParams{App: "nope"})
	requireCode(t, ripcord.ENOTFOUND, err)

	got, err := tb.svc.BuildGet(tb.ctx, "shop", i5.ID)
	require.NoError(t, err)
	require.Equal(t, i5, got)
	_, err = tb.svc.BuildGet(tb.ctx, "shop", 9999)
	requireCode(t, ripcord.ENOTFOUND, err)

	// A build of another app is not found under this one.
	_, err = tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "other", AndroidPackage: "com.acme.other"})
	require.NoError(t, err)
	_, err = tb.svc.BuildGet(tb.ctx, "other", a120.ID)
	requireCode(t, ripcord.ENOTFOUND, err)
}

func TestReleaseCreate(t *testing.T) {
	t.Parallel()

	t.Run("OKAttachesHighestExistingBuild", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		tb.upload(t, ripcord.Android, "1.2.0", "120", []byte("a120"))
		a122 := tb.upload(t, ripcord.Android, "1.2.0", "122", []byte("a122"))
		tb.upload(t, ripcord.Android, "1.2.0", "121", []byte("a121")) // newest, not highest
		tb.upload(t, ripcord.Android, "1.3.0", "130", []byte("a130")) // other version
		tb.upload(t, ripcord.IOS, "1.2.0", "9", []byte("i9"))
		i10 := tb.upload(t, ripcord.IOS, "1.2.0", "10", []byte("i10")) // numerically higher than 9

		rel, err := tb.svc.ReleaseCreate(as(ripcord.RoleReleaseManager), "shop", "1.2.0")
		require.NoError(t, err)
		require.NotZero(t, rel.ID)
		require.Equal(t, "1.2.0", rel.Version)
		require.Equal(t, "token:release-manager", rel.CreatedBy)
		require.Len(t, rel.Platforms, 2)
		require.Equal(t, ripcord.ReleasePlatform{Platform: ripcord.Android, BuildID: a122.ID, Status: ripcord.StatusUploaded, UpdatedAt: rel.CreatedAt}, rel.Platforms[0])
		require.Equal(t, ripcord.ReleasePlatform{Platform: ripcord.IOS, BuildID: i10.ID, Status: ripcord.StatusUploaded, UpdatedAt: rel.CreatedAt}, rel.Platforms[1])
		require.Equal(t, ripcord.StatusUploaded, rel.Status())

		got, err := tb.svc.ReleaseGet(as(ripcord.RoleViewer), "shop", "1.2.0")
		require.NoError(t, err)
		require.Equal(t, rel, got, "the release is stored as returned")
	})

	t.Run("OKAttachesBuildOfEquivalentVersion", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		a := tb.upload(t, ripcord.Android, "1.2.0", "120", []byte("a120"))
		rel, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.2")
		require.NoError(t, err)
		require.Equal(t, a.ID, rel.Platform(ripcord.Android).BuildID, "1.2 and 1.2.0 are one version to the stores")
		require.Equal(t, ripcord.StatusUploaded, rel.Platform(ripcord.Android).Status)
		require.Equal(t, ripcord.StatusDraft, rel.Platform(ripcord.IOS).Status)

		// Across spellings the highest build number still wins.
		tb.upload(t, ripcord.IOS, "3", "7", []byte("i7"))
		i8 := tb.upload(t, ripcord.IOS, "3.0.0", "8", []byte("i8"))
		tb.upload(t, ripcord.IOS, "3.0", "6", []byte("i6"))
		rel, err = tb.svc.ReleaseCreate(tb.ctx, "shop", "3.0")
		require.NoError(t, err)
		require.Equal(t, i8.ID, rel.Platform(ripcord.IOS).BuildID)
	})

	t.Run("OKDraftWithoutBuilds", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, err := tb.svc.AppCreate(tb.ctx, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop"})
		require.NoError(t, err)
		rel, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "2.0")
		require.NoError(t, err)
		require.Equal(t, []ripcord.ReleasePlatform{{Platform: ripcord.IOS, Status: ripcord.StatusDraft, UpdatedAt: rel.CreatedAt}}, rel.Platforms,
			"one platform per platform the app ships on")
		require.Equal(t, ripcord.StatusDraft, rel.Status())
	})

	t.Run("OKUploadAfterCreateAttaches", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		_, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "2.0.0")
		require.NoError(t, err)

		get := func() *ripcord.Release {
			t.Helper()
			r, err := tb.svc.ReleaseGet(tb.ctx, "shop", "2.0.0")
			require.NoError(t, err)
			return r
		}

		b200 := tb.upload(t, ripcord.Android, "2.0.0", "200", []byte("a200"))
		rel := get()
		require.Equal(t, b200.ID, rel.Platform(ripcord.Android).BuildID)
		require.Equal(t, ripcord.StatusUploaded, rel.Platform(ripcord.Android).Status)
		require.Equal(t, b200.CreatedAt, rel.Platform(ripcord.Android).UpdatedAt)
		require.Equal(t, ripcord.StatusDraft, rel.Platform(ripcord.IOS).Status)
		require.Equal(t, ripcord.StatusDraft, rel.Status(), "iOS still lacks its build")

		b201 := tb.upload(t, ripcord.Android, "2.0", "201", []byte("a201")) // same version, written short
		require.Equal(t, b201.ID, get().Platform(ripcord.Android).BuildID, "a later higher build replaces the earlier one")

		tb.upload(t, ripcord.Android, "2.0.0", "199", []byte("a199"))
		require.Equal(t, b201.ID, get().Platform(ripcord.Android).BuildID, "a lower build does not replace")
		tb.upload(t, ripcord.Android, "2.0.1", "300", []byte("a300"))
		require.Equal(t, b201.ID, get().Platform(ripcord.Android).BuildID, "a build of another version does not attach")

		i1 := tb.upload(t, ripcord.IOS, "2.0.0", "1", []byte("i1"))
		rel = get()
		require.Equal(t, i1.ID, rel.Platform(ripcord.IOS).BuildID)
		require.Equal(t, ripcord.StatusUploaded, rel.Status())

		var attaches []ripcord.AuditEntry
		for _, e := range tb.audit(t) {
			if e.Action == "release.attach_build" {
				attaches = append(attaches, e)
			}
		}
		require.Len(t, attaches, 3, "200, 201 and the iOS build attached; 199 and 300 did not")
		for _, e := range attaches {
			require.Equal(t, "release/shop/2.0.0", e.Target)
		}
		require.JSONEq(t, `{"platform":"android","build_id":0,"status":"draft"}`, attaches[0].Before)
		require.JSONEq(t, `{"platform":"android","build_id":`+itoa(b200.ID)+`,"status":"uploaded"}`, attaches[0].After)
		require.JSONEq(t, attaches[0].After, attaches[1].Before)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		_, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.2.0")
		require.NoError(t, err)
		for _, v := range []string{"1.2.0", "1.2", "1.02.0"} {
			_, err = tb.svc.ReleaseCreate(tb.ctx, "shop", v)
			requireCode(t, ripcord.ECONFLICT, err)
			require.Contains(t, ripcord.ErrorMessage(err), "release "+v+" of shop already exists (as 1.2.0)")
		}
		rels, err := tb.svc.ReleaseList(tb.ctx, "shop")
		require.NoError(t, err)
		require.Len(t, rels, 1)
		require.Equal(t, []string{"app.create", "release.create"}, actions(tb.audit(t)))
	})

	t.Run("ErrInvalidOrUnknown", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.createApp(t)
		_, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.2.x")
		requireCode(t, ripcord.EINVALID, err)
		_, err = tb.svc.ReleaseCreate(tb.ctx, "nope", "1.2.0")
		requireCode(t, ripcord.ENOTFOUND, err)
		_, err = tb.svc.ReleaseGet(tb.ctx, "shop", "9.9.9")
		requireCode(t, ripcord.ENOTFOUND, err)
		require.Contains(t, ripcord.ErrorMessage(err), "app shop has no release 9.9.9")
	})
}

func TestReleaseGetAndList(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.createApp(t)
	r1, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.2.0")
	require.NoError(t, err)
	r2, err := tb.svc.ReleaseCreate(tb.ctx, "shop", "1.3")
	require.NoError(t, err)

	got, err := tb.svc.ReleaseGet(tb.ctx, "shop", "1.2")
	require.NoError(t, err)
	require.Equal(t, r1, got, `"1.2" finds release 1.2.0`)
	got, err = tb.svc.ReleaseGet(tb.ctx, "shop", "1.3.0")
	require.NoError(t, err)
	require.Equal(t, r2, got, `"1.3.0" finds release 1.3`)

	rels, err := tb.svc.ReleaseList(tb.ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, []*ripcord.Release{r2, r1}, rels, "newest first")
	_, err = tb.svc.ReleaseList(tb.ctx, "nope")
	requireCode(t, ripcord.ENOTFOUND, err)
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := ripcord.NewContextWithRequestID(tb.ctx, "req-42")

	_, err := tb.svc.AppCreate(ctx, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"})
	require.NoError(t, err)
	b1, _, err := tb.svc.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.Android, Version: "1.0.0", BuildNumber: "100", Body: bytes.NewReader([]byte("a100"))})
	require.NoError(t, err)
	_, err = tb.svc.ReleaseCreate(ctx, "shop", "1.0.0")
	require.NoError(t, err)
	b2, _, err := tb.svc.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.0.0", BuildNumber: "1", Body: bytes.NewReader([]byte("i1"))})
	require.NoError(t, err)
	// Neither an idempotent re-upload nor a refused one adds an entry.
	_, created, err := tb.svc.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.0.0", BuildNumber: "1", Body: bytes.NewReader([]byte("i1"))})
	require.NoError(t, err)
	require.False(t, created)
	_, _, err = tb.svc.BuildUpload(ctx, catalog.BuildUploadParams{App: "shop", Platform: ripcord.IOS, Version: "1.0.0", BuildNumber: "1", Body: bytes.NewReader([]byte("i1 other"))})
	requireCode(t, ripcord.ECONFLICT, err)

	es := tb.audit(t)
	require.Equal(t, []string{"app.create", "build.upload", "release.create", "build.upload", "release.attach_build"}, actions(es))
	require.Equal(t, []string{
		"app/shop",
		"build/shop/android/" + itoa(b1.ID),
		"release/shop/1.0.0",
		"build/shop/ios/" + itoa(b2.ID),
		"release/shop/1.0.0",
	}, func() []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Target)
		}
		return out
	}())
	for i, e := range es {
		require.Equal(t, int64(i+1), e.Seq)
		require.Equal(t, "token:ci", e.Actor)
		require.Equal(t, "req-42", e.RequestID)
	}
	require.Nil(t, ripcord.VerifyAuditChain(0, "", es), "the chain holds")

	seq, hash, err := tb.db.AuditHead(context.Background())
	require.NoError(t, err)
	require.Equal(t, es[len(es)-1].Seq, seq)
	require.Equal(t, es[len(es)-1].Hash, hash)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
