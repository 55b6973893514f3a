package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/stages"
)

// Stages submits, starts and advances staged rollouts, keeps the apps'
// rollout plans and reports where each rollout stands (internal/stages).
type Stages interface {
	// PlanGet returns the app's plan, or the default when it set none.
	PlanGet(ctx context.Context, app string) (*stages.Plan, error)
	// PlanSet validates and stores the app's plan.
	PlanSet(ctx context.Context, app string, plan ripcord.RolloutPlan) (*stages.Plan, error)
	// RequestSubmit queues the release's submission to the store.
	RequestSubmit(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
	// Start releases the first stage; ECONFLICT without a gate go, or on
	// iOS before Android's second stage.
	Start(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
	// Advance moves to the next stage now, on a good verdict only.
	Advance(ctx context.Context, app, version string, platform ripcord.Platform) (*ripcord.Release, error)
	// Schedule reports each platform's stage and next step.
	Schedule(ctx context.Context, app, version string) ([]stages.PlatformSchedule, error)
}

// RolloutPlan is an app's rollout plan on the wire; durations are Go
// duration strings ("20h").
type RolloutPlan struct {
	TimeZone     string         `json:"time_zone"`
	DueHour      int            `json:"due_hour"`
	HoldWeekends bool           `json:"hold_weekends"`
	Holidays     []string       `json:"holidays"`
	Android      []RolloutStage `json:"android"`
	IOS          []RolloutStage `json:"ios"`
	// Default is true when the app set no plan (responses only).
	Default   bool       `json:"default,omitempty"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// RolloutStage is one stage of a plan on the wire.
type RolloutStage struct {
	Day         int     `json:"day"`
	Percent     float64 `json:"percent"`
	MinDuration string  `json:"min_duration,omitempty"`
}

// NewRolloutPlan converts a plan to the wire.
func NewRolloutPlan(p ripcord.RolloutPlan) RolloutPlan {
	conv := func(in []ripcord.RolloutStage) []RolloutStage {
		out := make([]RolloutStage, 0, len(in))
		for _, s := range in {
			st := RolloutStage{Day: s.Day, Percent: s.Percent}
			if s.MinDuration != 0 {
				st.MinDuration = s.MinDuration.String()
			}
			out = append(out, st)
		}
		return out
	}
	holidays := p.Holidays
	if holidays == nil {
		holidays = []string{}
	}
	return RolloutPlan{TimeZone: p.TimeZone, DueHour: p.DueHour, HoldWeekends: p.HoldWeekends, Holidays: holidays, Android: conv(p.Android), IOS: conv(p.IOS)}
}

// Domain converts the wire plan, saying which duration is malformed.
func (p RolloutPlan) Domain() (ripcord.RolloutPlan, error) {
	out := ripcord.RolloutPlan{TimeZone: p.TimeZone, DueHour: p.DueHour, HoldWeekends: p.HoldWeekends, Holidays: p.Holidays}
	conv := func(platform ripcord.Platform, in []RolloutStage) ([]ripcord.RolloutStage, error) {
		out := make([]ripcord.RolloutStage, 0, len(in))
		for i, s := range in {
			st := ripcord.RolloutStage{Day: s.Day, Percent: s.Percent}
			if s.MinDuration != "" {
				d, err := time.ParseDuration(s.MinDuration)
				if err != nil {
					return nil, ripcord.Errorf(ripcord.EINVALID, "%s stage %d: min_duration %q is not a duration such as 20h", platform, i+1, s.MinDuration)
				}
				st.MinDuration = d
			}
			out = append(out, st)
		}
		return out, nil
	}
	var err error
	if out.Android, err = conv(ripcord.Android, p.Android); err != nil {
		return out, err
	}
	out.IOS, err = conv(ripcord.IOS, p.IOS)
	return out, err
}

// RolloutSchedule is where a release's rollout stands on one platform and
// what comes next.
type RolloutSchedule struct {
	Stage   int     `json:"stage"`
	Stages  int     `json:"stages"`
	Percent float64 `json:"percent"`
	// Label is the stage in words: "stage 2/3, 30 %" or "not started".
	Label string     `json:"label"`
	Since *time.Time `json:"since,omitempty"`
	// Next is the next step, e.g. "stage 3/3, 100 %".
	Next  string     `json:"next,omitempty"`
	DueAt *time.Time `json:"due_at,omitempty"`
	// Waiting says what the next step waits for (weekend or holiday hold,
	// health, Android, App Review); empty when it is due now.
	Waiting string `json:"waiting,omitempty"`
}

// StageActionResult is the release after a submit, start or advance, with
// the platforms of a --platform all request that were not acted on and why.
type StageActionResult struct {
	Release
	Skipped []string `json:"skipped,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// withSchedule adds each platform's rollout schedule to a release on the
// wire; without a stages service it is left out.
func (h *handler) withSchedule(ctx context.Context, out *Release) error {
	if h.stages == nil {
		return nil
	}
	sched, err := h.stages.Schedule(ctx, out.App, out.Version)
	if err != nil {
		return err
	}
	for _, ps := range sched {
		for i := range out.Platforms {
			if out.Platforms[i].Platform == string(ps.Platform) {
				out.Platforms[i].Rollout = &RolloutSchedule{Stage: ps.Stage, Stages: ps.Stages, Percent: ps.Percent, Label: ps.Label(),
					Since: timePtr(ps.Since), Next: ps.Next, DueAt: timePtr(ps.DueAt), Waiting: ps.Waiting}
			}
		}
	}
	return nil
}

func (h *handler) rolloutPlanGet(w http.ResponseWriter, r *http.Request) {
	p, err := h.stages.PlanGet(r.Context(), r.PathValue("app"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planOut(p))
}

func (h *handler) rolloutPlanPut(w http.ResponseWriter, r *http.Request) {
	var req RolloutPlan
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	plan, err := req.Domain()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	p, err := h.stages.PlanSet(r.Context(), r.PathValue("app"), plan)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planOut(p))
}

func planOut(p *stages.Plan) RolloutPlan {
	out := NewRolloutPlan(p.Plan)
	out.Default, out.UpdatedBy, out.UpdatedAt = p.Default, p.UpdatedBy, timePtr(p.UpdatedAt)
	return out
}

// stageAction serves POST .../submit|start|advance?platform=android|ios|all
// with act. For all, each of the app's platforms is tried in order
// (Android first, since iOS follows it); refusals are reported under
// skipped, and the request fails only when no platform was acted on.
func (h *handler) stageAction(status int, act func(Stages, context.Context, string, string, ripcord.Platform) (*ripcord.Release, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req RolloutActionRequest
		if r.ContentLength != 0 {
			if err := h.decodeJSON(w, r, &req); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		name := req.Platform
		if q := r.URL.Query().Get("platform"); q != "" {
			if name != "" && name != q {
				h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, "platform %q in the body and %q in the query disagree; give one", name, q))
				return
			}
			name = q
		}
		var platforms []ripcord.Platform
		switch name {
		case "":
			h.writeError(w, r, ripcord.Errorf(ripcord.EINVALID, `name the platform: ?platform=android, ios or all`))
			return
		case "all":
			a, err := h.catalog.AppGet(r.Context(), r.PathValue("app"))
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			platforms = a.Platforms()
		default:
			p, err := ripcord.ParsePlatform(name)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			platforms = []ripcord.Platform{p}
		}
		app, version := r.PathValue("app"), r.PathValue("version")
		var rel *ripcord.Release
		var skipped []string
		var firstErr error
		for _, p := range platforms {
			got, err := act(h.stages, r.Context(), app, version, p)
			if err != nil {
				if len(platforms) == 1 || ripcord.ErrorCode(err) == ripcord.EINTERNAL {
					h.writeError(w, r, err)
					return
				}
				firstErr = cmpErr(firstErr, err)
				skipped = append(skipped, string(p)+": "+ripcord.ErrorMessage(err))
				continue
			}
			rel = got
		}
		if rel == nil {
			h.writeError(w, r, firstErr)
			return
		}
		out := StageActionResult{Release: NewRelease(app, rel), Skipped: skipped}
		if err := h.withSchedule(r.Context(), &out.Release); err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, status, out)
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// needStages answers 404 when the server runs without a stages service.
func (h *handler) needStages(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.stages == nil {
			h.writeError(w, r, ripcord.Errorf(ripcord.ENOTFOUND, "staged rollouts are not enabled on this server"))
			return
		}
		fn(w, r)
	}
}
