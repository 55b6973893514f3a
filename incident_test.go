package ripcord_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestValidateIncidentTrigger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		trigger string
		ok      bool
	}{
		{"manual", true},
		{"health:crash_free_sessions", true},
		{"health:flow:checkout", true},
		{"runbook:exam-submit/T1", true},
		{"runbook:exam-submit#T1", true},
		{"", false},
		{"because", false},
		{"health:", false},
		{"health:Crash Free", false},
		{"runbook:a b", false},
		{"runbook:" + strings.Repeat("x", 161), false},
		{"manual\n", false},
	}
	for _, tt := range tests {
		err := ripcord.ValidateIncidentTrigger(tt.trigger)
		if tt.ok {
			require.NoError(t, err, tt.trigger)
		} else {
			require.Error(t, err, tt.trigger)
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		}
	}
}

func TestValidateIncidentText(t *testing.T) {
	t.Parallel()
	require.NoError(t, ripcord.ValidateIncidentText("summary", "fixed in 1.2.1", true))
	require.NoError(t, ripcord.ValidateIncidentText("summary", "", false))
	require.ErrorContains(t, ripcord.ValidateIncidentText("summary", "  ", true), "summary is required")
	require.ErrorContains(t, ripcord.ValidateIncidentText("decision", strings.Repeat("x", ripcord.MaxIncidentText+1), true), "the limit is 4000")
	require.Equal(t, "release/shop/1.2.0/android", ripcord.ReleaseTarget("shop", "1.2.0", ripcord.Android))
	require.Equal(t, "incident/7", ripcord.IncidentTarget(7))
}
