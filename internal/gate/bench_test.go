package gate_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/gate"
	"github.com/ripcordhq/ripcord/internal/sqlite"
)

// BenchmarkGoRecorded measures the check a production rollout start pays:
// the recorded decision plus a full re-evaluation of every gate item.
func BenchmarkGoRecorded(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "r.db"), nil)
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	bd := setup(b, migrate(b, db))
	bd.push(b, read(b, "exam-submit.md"))
	_, err = bd.gate.RecordChanges(bd.ci, "learner-app", "1.0.0", gate.ChangesParams{Paths: []string{"android/feature/examsubmit/A.kt"}})
	require.NoError(b, err)
	_, err = bd.gate.Approve(bd.ana, "learner-app", "1.0.0", "cs-briefed", "ok")
	require.NoError(b, err)
	bd.rehearse(b, time.Minute)
	d, err := bd.gate.Check(bd.ci, "learner-app", "1.0.0")
	require.NoError(b, err)
	require.True(b, d.Go, "%+v", d.Items)
	for b.Loop() {
		if err := bd.gate.GoRecorded(bd.ci, "learner-app", "1.0.0"); err != nil {
			b.Fatal(err)
		}
	}
}
