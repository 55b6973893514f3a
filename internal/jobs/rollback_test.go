package jobs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/catalog"
	"github.com/ripcordhq/ripcord/internal/credentials"
	"github.com/ripcordhq/ripcord/internal/jobs"
)

// TestPrepareRollbackCancelsWithoutStoreCredential runs the job for an app
// that has no store credential: each platform's job is canceled (retrying
// cannot help) with what to store.
func TestPrepareRollbackCancelsWithoutStoreCredential(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := ripcord.NewContextWithActor(context.Background(), ripcord.Actor{Name: "token:admin", Role: ripcord.RoleAdmin})
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	creds, err := credentials.New(credentials.Config{Store: tb.store, SecretKey: secret})
	require.NoError(t, err)
	cat := catalog.New(catalog.Config{Store: tb.store, Artifacts: tb.artifacts})
	_, err = cat.AppCreate(ctx, ripcord.App{Name: "shop", IOSBundleID: "com.acme.shop", AndroidPackage: "com.acme.shop"})
	require.NoError(t, err)
	_, err = cat.ReleaseCreate(ctx, "shop", "1.2.0")
	require.NoError(t, err)
	var logs bytes.Buffer
	w, err := jobs.NewPrepareRollbackWorker(jobs.Deps{Store: tb.store, Artifacts: tb.artifacts, Credentials: creds,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), WorkDir: t.TempDir()})
	require.NoError(t, err)

	tests := []struct {
		platform ripcord.Platform
		want     string
	}{
		{ripcord.IOS, "store it with `ripcord app credentials shop --asc-key FILE --asc-key-id ID --asc-issuer-id ID`"},
		{ripcord.Android, "store it with `ripcord app credentials shop --play-service-account FILE`"},
		{"windows", `prepared for ios and android, not "windows"`},
	}
	for _, tt := range tests {
		job := &river.Job[jobs.PrepareRollbackArgs]{JobRow: &rivertype.JobRow{Attempt: 1},
			Args: jobs.PrepareRollbackArgs{App: "shop", TargetVersion: "1.2.0", Platform: tt.platform}}
		err := w.Work(context.Background(), job)
		var cancel *river.JobCancelError
		require.True(t, errors.As(err, &cancel), "%s: %v", tt.platform, err)
		require.ErrorContains(t, err, tt.want)
	}
	require.Contains(t, logs.String(), "rollback preparation cannot go on until someone acts")
}
