package aab_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/aab"
)

func TestFindingsFlagOldTargetSdk(t *testing.T) {
	t.Parallel()
	code := int64(120)
	mods := []aab.Module{{Name: "base"}, {Name: "feature"}}
	mods[0].TargetSdk, mods[0].VersionCode = 34, &code
	fs := aab.Findings(mods, 0)
	require.Len(t, fs, 1)
	require.Equal(t, "target_sdk_below_play_minimum", fs[0].Code)
	require.Contains(t, fs[0].Message, "targetSdk 34 is below Play's minimum 36")

	mods[0].TargetSdk = 36
	require.Empty(t, aab.Findings(mods, 0))
	require.Len(t, aab.Findings(mods, 37), 1, "the minimum is configurable")
	require.Equal(t, "no_base_module", aab.Findings(mods[1:], 0)[0].Code)
}
