package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/demo"
)

// TestScriptedStory plays the whole demo unattended, as CI and a newcomer's
// `ripcord demo --scripted` do, and checks it ends with the stores in the
// expected state (Verify reads them through their APIs).
func TestScriptedStory(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := demo.Run(context.Background(), demo.RunOptions{Options: demo.Options{Dir: t.TempDir()}, Scripted: true, Out: &out})
	require.NoError(t, err, "story:\n%s", out.String())
	require.Contains(t, out.String(), "The stores ended as expected.")
	require.NotContains(t, out.String(), "FAILED")
	t.Log("\n" + out.String())
}

// TestStartRefusesUsedDirectory keeps a previous demo's state: a second
// demo on the same directory is refused, saying what to do.
func TestStartRefusesUsedDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := demo.Start(context.Background(), demo.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	_, err = demo.Start(context.Background(), demo.Options{Dir: dir})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "already holds a demo") && strings.Contains(err.Error(), "--state-dir"), err.Error())
}
