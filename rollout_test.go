package ripcord_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestDefaultRolloutPlanIsValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, ripcord.DefaultRolloutPlan().Validate())
}

func TestRolloutPlanValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(p *ripcord.RolloutPlan)
		err    string
	}{
		{"BadZone", func(p *ripcord.RolloutPlan) { p.TimeZone = "Mars/Olympus" }, "not an IANA time zone"},
		{"BadHour", func(p *ripcord.RolloutPlan) { p.DueHour = 24 }, "not an hour"},
		{"BadHoliday", func(p *ripcord.RolloutPlan) { p.Holidays = []string{"25.12.2026"} }, "write YYYY-MM-DD"},
		{"NoStages", func(p *ripcord.RolloutPlan) { p.Android = nil }, "android rollout has no stages"},
		{"PercentFalls", func(p *ripcord.RolloutPlan) { p.Android[1].Percent = 5 }, "release to more users than stage 1"},
		{"DayFalls", func(p *ripcord.RolloutPlan) { p.Android[2].Day = 1 }, "same day or later"},
		{"OverHundred", func(p *ripcord.RolloutPlan) { p.Android[2].Percent = 120 }, "at most 100"},
		{"IOSIntermediate", func(p *ripcord.RolloutPlan) { p.IOS[0].Percent = 10 }, "Apple's phased release can only be started (1 %) or completed (100 %)"},
		{"IOSBeforeAndroid", func(p *ripcord.RolloutPlan) { p.IOS[0].Day = 1 }, "iOS starts on day 1, before Android reaches its second stage on day 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := ripcord.DefaultRolloutPlan()
			tc.mutate(&p)
			err := p.Validate()
			require.ErrorContains(t, err, tc.err)
			require.Equal(t, ripcord.EINVALID, ripcord.ErrorCode(err))
		})
	}
}

func TestRolloutDueAt(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	plan := ripcord.DefaultRolloutPlan()
	plan.TimeZone = "Europe/Berlin"
	local := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, berlin) }

	tests := []struct {
		name     string
		holds    bool
		holidays []string
		start    time.Time
		platform ripcord.Platform
		stage    int
		want     time.Time
	}{
		// Tuesday 24 Nov 2026, 15:00 Berlin.
		{"Day1IsTheStart", true, nil, local(2026, 11, 24, 15), ripcord.Android, 0, local(2026, 11, 24, 15)},
		{"Day2NextMorning", true, nil, local(2026, 11, 24, 15), ripcord.Android, 1, local(2026, 11, 25, 10)},
		{"IOSDay2", true, nil, local(2026, 11, 24, 15), ripcord.IOS, 0, local(2026, 11, 25, 10)},
		// Friday 27 Nov: day 2 skips the weekend to Monday, day 3 is Tuesday.
		{"WeekendHeld", true, nil, local(2026, 11, 27, 9), ripcord.Android, 1, local(2026, 11, 30, 10)},
		{"WeekendHeldDay3", true, nil, local(2026, 11, 27, 9), ripcord.Android, 2, local(2026, 12, 1, 10)},
		{"WeekendNotHeld", false, nil, local(2026, 11, 27, 9), ripcord.Android, 1, local(2026, 11, 28, 10)},
		{"HolidayHeld", true, []string{"2026-12-24", "2026-12-25"}, local(2026, 12, 23, 9), ripcord.Android, 1, local(2026, 12, 28, 10)},
		// Clocks go back on Sunday 25 Oct 2026 in Berlin; 10:00 local stays 10:00.
		{"AcrossDST", false, nil, local(2026, 10, 24, 12), ripcord.Android, 1, local(2026, 10, 25, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := plan
			p.HoldWeekends, p.Holidays = tc.holds, tc.holidays
			got, err := p.DueAt(tc.platform, tc.stage, tc.start.UTC())
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "want %s, got %s", tc.want, got.In(berlin))
		})
	}
	_, err = plan.DueAt(ripcord.IOS, 5, time.Now())
	require.ErrorContains(t, err, "no stage 6")
}

func TestRolloutNextAdvance(t *testing.T) {
	t.Parallel()
	plan := ripcord.DefaultRolloutPlan() // UTC, due 10:00, weekends held
	start := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

	// Android day 1 → day 2: due 10:00 the next morning, but the 20-hour
	// minimum pushes it to 11:00.
	due, ok, why := plan.NextAdvance(ripcord.Android, 0, start, start, 0)
	require.True(t, ok, why)
	require.Equal(t, time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), due)

	// iOS may not start while Android is on its first stage.
	_, ok, why = plan.NextAdvance(ripcord.IOS, -1, start, time.Time{}, 0)
	require.False(t, ok)
	require.Contains(t, why, "waits until Android has reached its second stage")
	due, ok, _ = plan.NextAdvance(ripcord.IOS, -1, start, time.Time{}, 1)
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), due)

	// The last stage has nowhere to go.
	_, ok, why = plan.NextAdvance(ripcord.Android, 2, start, start, 2)
	require.False(t, ok)
	require.Contains(t, why, "last stage")

	// A stage that started late runs its minimum duration.
	late := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	due, ok, _ = plan.NextAdvance(ripcord.Android, 1, start, late, 1)
	require.True(t, ok)
	require.Equal(t, late.Add(ripcord.DefaultMinStageDuration), due)
}

func TestRolloutPlanHoldReason(t *testing.T) {
	t.Parallel()
	plan := ripcord.DefaultRolloutPlan()
	plan.TimeZone, plan.Holidays = "Europe/Berlin", []string{"2026-12-24"}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), ""},                  // Monday
		{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), "weekend"},           // Saturday
		{time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC), "weekend"},          // Friday in UTC, Saturday in Berlin
		{time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC), "holiday 2026-12-24"}, // Thursday, a holiday
	} {
		require.Equal(t, tc.want, plan.HoldReason(tc.at), "%s", tc.at)
	}
	plan.HoldWeekends = false
	require.Empty(t, plan.HoldReason(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)), "weekends count when not held")
}
