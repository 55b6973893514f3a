package ripcord

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestActionKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		kind     ActionKind
		android  ReleaseEvent
		ios      ReleaseEvent
		doneAndr ReleaseStatus
		doneIOS  ReleaseStatus
	}{
		{"halt", ActionHalt, EventHalt, EventPause, StatusHalted, StatusPaused},
		{"pause", ActionHalt, EventHalt, EventPause, StatusHalted, StatusPaused},
		{"resume", ActionResume, EventResume, EventResume, "", ""},
		{"rollback", ActionRollback, EventRollback, EventRollback, StatusRolledBack, StatusRolledBack},
	}
	for _, tt := range tests {
		k, err := ParseActionKind(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.kind, k)
		require.Equal(t, tt.android, k.Event(Android), tt.in)
		require.Equal(t, tt.ios, k.Event(IOS), tt.in)
		require.Equal(t, tt.doneAndr, k.Done(Android), tt.in)
		require.Equal(t, tt.doneIOS, k.Done(IOS), tt.in)
		// The event is one the state machine knows on that platform.
		_, err = Transition(Android, StatusRollingOut, k.Event(Android))
		if k != ActionResume {
			require.NoError(t, err, tt.in)
		}
	}
	for _, bad := range []string{"", "Halt", "stop", "roll back"} {
		_, err := ParseActionKind(bad)
		require.Equal(t, EINVALID, ErrorCode(err), bad)
	}
}

func TestActionStates(t *testing.T) {
	t.Parallel()
	for s, active := range map[ActionState]bool{ActionQueued: true, ActionRunning: true, ActionSucceeded: false, ActionFailed: false} {
		require.Equal(t, active, s.Active(), s)
	}
	a := &RolloutAction{Steps: []ActionStep{{Name: "a", Ref: "1"}, {Name: "b"}}}
	require.Equal(t, "1", a.Step("a").Ref)
	require.Nil(t, a.Step("c"))
	a.Step("b").Note = "changed in place"
	require.Equal(t, "changed in place", a.Steps[1].Note)
}
