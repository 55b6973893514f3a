package ripcord

import (
	"fmt"
	"time"
)

// RolloutStage is one step of a platform's staged rollout.
type RolloutStage struct {
	// Day is the rollout day, from 1, on which the stage is due; with
	// weekend holds only working days count.
	Day int `json:"day"`
	// Percent is the share of users the stage releases to. On iOS only two
	// values exist, because Apple's phased release is a fixed 7-day ramp
	// that can only be started (1) or completed early (100).
	Percent float64 `json:"percent"`
	// MinDuration is how long the previous stage must have run before this
	// one may start, whatever the calendar says. Default 20h.
	MinDuration time.Duration `json:"min_duration,omitempty"`
}

// RolloutPlan is an app's rollout schedule per platform, in the team's time
// zone. Stages advance only while health is conclusively good; the plan
// says when they are due, not that they happen.
type RolloutPlan struct {
	TimeZone     string         `json:"time_zone"`     // IANA name, e.g. Europe/Berlin
	DueHour      int            `json:"due_hour"`      // local hour at which a day's stage is due (0-23)
	HoldWeekends bool           `json:"hold_weekends"` // Saturdays and Sundays do not count as rollout days
	Holidays     []string       `json:"holidays"`      // YYYY-MM-DD dates that do not count either
	Android      []RolloutStage `json:"android"`
	IOS          []RolloutStage `json:"ios"`
}

// DefaultMinStageDuration is how long a stage runs at least when the plan
// does not say: most of a day, so a morning stage follows a morning stage.
const DefaultMinStageDuration = 20 * time.Hour

// DefaultRolloutPlan is the asymmetric plan Shopify describes: Android 8 %,
// 30 %, 100 % over three days; iOS not released on day 1, Apple's phased
// release started on day 2 (once Android is at its second stage) and
// completed early on day 3.
func DefaultRolloutPlan() RolloutPlan {
	return RolloutPlan{
		TimeZone: "UTC", DueHour: 10, HoldWeekends: true,
		Android: []RolloutStage{{Day: 1, Percent: 8}, {Day: 2, Percent: 30}, {Day: 3, Percent: 100}},
		IOS:     []RolloutStage{{Day: 2, Percent: 1}, {Day: 3, Percent: 100}},
	}
}

// Stages returns the plan's stages for p.
func (rp RolloutPlan) Stages(p Platform) []RolloutStage {
	if p == IOS {
		return rp.IOS
	}
	return rp.Android
}

// Validate checks the plan against the stores' rules and Ripcord's: days
// and percentages rise, iOS uses only what Apple's phased release allows,
// and iOS never starts before Android has reached its second stage.
func (rp RolloutPlan) Validate() error {
	if _, err := time.LoadLocation(rp.TimeZone); err != nil || rp.TimeZone == "" {
		return Errorf(EINVALID, "rollout time zone %q is not an IANA time zone such as Europe/Berlin or America/New_York", rp.TimeZone)
	}
	if rp.DueHour < 0 || rp.DueHour > 23 {
		return Errorf(EINVALID, "rollout due hour %d is not an hour from 0 to 23", rp.DueHour)
	}
	for _, h := range rp.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return Errorf(EINVALID, "holiday %q is not a date; write YYYY-MM-DD", h)
		}
	}
	for _, p := range Platforms() {
		stages := rp.Stages(p)
		if len(stages) == 0 {
			return Errorf(EINVALID, "the %s rollout has no stages; give at least one", p)
		}
		for i, s := range stages {
			switch {
			case s.Day < 1:
				return Errorf(EINVALID, "%s stage %d: day %d is before day 1", p, i+1, s.Day)
			case s.Percent <= 0 || s.Percent > 100:
				return Errorf(EINVALID, "%s stage %d: %g %% is not a share of users above 0 and at most 100", p, i+1, s.Percent)
			case s.MinDuration < 0:
				return Errorf(EINVALID, "%s stage %d: minimum duration %s is negative", p, i+1, s.MinDuration)
			case p == IOS && s.Percent != 1 && s.Percent != 100:
				return Errorf(EINVALID, "iOS stage %d: %g %% is not possible; Apple's phased release can only be started (1 %%) or completed (100 %%)", i+1, s.Percent)
			}
			if i > 0 && (s.Day < stages[i-1].Day || s.Percent <= stages[i-1].Percent) {
				return Errorf(EINVALID, "%s stage %d must come on the same day or later and release to more users than stage %d", p, i+1, i)
			}
		}
	}
	if len(rp.Android) >= 2 && rp.IOS[0].Day < rp.Android[1].Day {
		return Errorf(EINVALID, "iOS starts on day %d, before Android reaches its second stage on day %d; a problem Android would have caught must not reach iOS users first", rp.IOS[0].Day, rp.Android[1].Day)
	}
	return nil
}

// DueAt returns when stage index i (from 0) of p's rollout is due, for a
// rollout whose first stage started at start. Day 1 is start's local date;
// later days are counted in the plan's time zone, skipping held days, and
// are due at DueHour local time (daylight saving included).
func (rp RolloutPlan) DueAt(p Platform, i int, start time.Time) (time.Time, error) {
	stages := rp.Stages(p)
	if i < 0 || i >= len(stages) {
		return time.Time{}, Errorf(EINVALID, "the %s rollout has no stage %d", p, i+1)
	}
	loc, err := time.LoadLocation(rp.TimeZone)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "rollout time zone %q is not known", rp.TimeZone)
	}
	local := start.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	for n := 1; n < stages[i].Day; {
		day = day.AddDate(0, 0, 1)
		if !rp.held(day) {
			n++
		}
	}
	due := time.Date(day.Year(), day.Month(), day.Day(), rp.DueHour, 0, 0, 0, loc)
	if stages[i].Day == 1 && due.Before(start) {
		due = start // day 1's stage is due when the rollout starts
	}
	return due, nil
}

func (rp RolloutPlan) held(day time.Time) bool {
	if rp.HoldWeekends && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
		return true
	}
	date := day.Format(time.DateOnly)
	for _, h := range rp.Holidays {
		if h == date {
			return true
		}
	}
	return false
}

// NextAdvance says when p's rollout, at stage index current (from 0) since
// stageStarted, may move to its next stage: the later of the calendar due
// time and the stage's minimum duration. For iOS, androidStage is Android's
// current stage index (-1 when not started): iOS waits until Android is at
// its second stage. ok is false, with the reason, when no advance is
// possible at any time yet.
func (rp RolloutPlan) NextAdvance(p Platform, current int, start, stageStarted time.Time, androidStage int) (due time.Time, ok bool, reason string) {
	stages := rp.Stages(p)
	next := current + 1
	if next >= len(stages) {
		return time.Time{}, false, fmt.Sprintf("the %s rollout is at its last stage", p)
	}
	if p == IOS && len(rp.Android) >= 2 && androidStage < 1 {
		return time.Time{}, false, "iOS waits until Android has reached its second stage"
	}
	due, err := rp.DueAt(p, next, start)
	if err != nil {
		return time.Time{}, false, err.Error()
	}
	if current >= 0 {
		minDur := stages[next].MinDuration
		if minDur == 0 {
			minDur = DefaultMinStageDuration
		}
		if earliest := stageStarted.Add(minDur); earliest.After(due) {
			due = earliest
		}
	}
	return due, true, ""
}

// HoldReason says why t's local date in the plan's time zone is not a
// rollout day ("weekend", "holiday 2026-12-24"), or "" when it is one; the
// schedule shows it so a held rollout does not look stuck.
func (rp RolloutPlan) HoldReason(t time.Time) string {
	loc, err := time.LoadLocation(rp.TimeZone)
	if err != nil {
		return ""
	}
	day := t.In(loc)
	if rp.HoldWeekends && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
		return "weekend"
	}
	date := day.Format(time.DateOnly)
	for _, h := range rp.Holidays {
		if h == date {
			return "holiday " + h
		}
	}
	return ""
}
