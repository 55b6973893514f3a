package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/gate"
	"github.com/ripcordhq/ripcord/internal/incident"
	"github.com/ripcordhq/ripcord/internal/stages"
	"github.com/ripcordhq/ripcord/internal/web"
)

// webStages shows a platform's rollout stages from the staged-rollout
// service: the plan's stages with the current one and what comes next.
type webStages struct{ s *stages.Service }

func (w webStages) RolloutStages(ctx context.Context, app, version string, platform ripcord.Platform) (*web.StagesView, *web.RolloutProgress, error) {
	scheds, err := w.s.Schedule(ctx, app, version)
	if err != nil {
		return nil, nil, err
	}
	plan, err := w.s.PlanGet(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	for _, ps := range scheds {
		if ps.Platform != platform {
			continue
		}
		view := &web.StagesView{Next: ps.Label()}
		if ps.Next != "" {
			view.Next = "Next: " + ps.Next
			if !ps.DueAt.IsZero() {
				view.Next += ", due " + ps.DueAt.UTC().Format("Mon 2 Jan 15:04 MST")
			}
			if ps.Waiting != "" {
				view.Next += " (" + ps.Waiting + ")"
			}
		}
		planned := plan.Plan.Android
		if platform == ripcord.IOS {
			planned = plan.Plan.IOS
		}
		for i, st := range planned {
			sv := web.StageView{Percent: st.Percent, State: "scheduled"}
			switch {
			case i+1 < ps.Stage:
				sv.State = "done"
			case i+1 == ps.Stage:
				sv.State, sv.Started = "current", ps.Since
			case i == ps.Stage && !ps.DueAt.IsZero():
				sv.DueAt = ps.DueAt
				if strings.HasPrefix(ps.Waiting, "held") {
					sv.State = "held"
				}
			}
			view.Stages = append(view.Stages, sv)
		}
		return view, &web.RolloutProgress{Percent: ps.Percent, Stage: ps.Stage, Stages: ps.Stages}, nil
	}
	return nil, nil, nil
}

// webIncidents lists an app's open incidents for the overview.
type webIncidents struct{ s *incident.Service }

func (w webIncidents) OpenIncidents(ctx context.Context, app string) ([]web.IncidentView, error) {
	ins, err := w.s.List(ctx, incident.ListParams{App: app, OpenOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]web.IncidentView, 0, len(ins))
	for _, in := range ins {
		title := fmt.Sprintf("%s %s on %s: %s", in.App, in.Version, in.Platform, in.Trigger)
		if in.Decision != "" {
			title += " — " + in.Decision
		}
		out = append(out, web.IncidentView{ID: strconv.FormatInt(in.ID, 10), Title: title, Severity: in.Outcome, OpenedAt: in.OpenedAt})
	}
	return out, nil
}

// webGate shows a release's last recorded go/no-go check; reading the page
// never records a new one.
type webGate struct{ s *gate.Service }

func (w webGate) ReleaseGate(ctx context.Context, app, version string) (*web.GateView, error) {
	d, err := w.s.Latest(ctx, app, version)
	if ripcord.ErrorCode(err) == ripcord.ENOTFOUND {
		return &web.GateView{Items: []web.GateItem{{Name: "no gate check recorded yet", Detail: "`ripcord gate check " + app + " " + version + "` records one"}}}, nil
	} else if err != nil {
		return nil, err
	}
	v := &web.GateView{Pass: d.Go}
	for _, it := range d.Items {
		v.Items = append(v.Items, web.GateItem{Name: it.ID, Pass: it.Pass, Detail: strings.Join(it.Evidence, "; ")})
	}
	return v, nil
}
