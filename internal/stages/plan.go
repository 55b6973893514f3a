package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/storage"
)

// Plan is an app's rollout plan and where it comes from.
type Plan struct {
	Plan ripcord.RolloutPlan
	// Default is true when the app set no plan and Ripcord's default
	// applies.
	Default   bool
	UpdatedBy string
	UpdatedAt time.Time
}

// PlanGet returns the app's rollout plan, or the default when it set none.
func (s *Service) PlanGet(ctx context.Context, appName string) (*Plan, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleViewer); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appName)
	if err != nil {
		return nil, err
	}
	return s.planOf(ctx, s.store, app)
}

func (s *Service) planOf(ctx context.Context, q storage.Queries, app *ripcord.App) (*Plan, error) {
	p, err := q.RolloutPlanGet(ctx, app.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return &Plan{Plan: ripcord.DefaultRolloutPlan(), Default: true}, nil
	} else if err != nil {
		return nil, fmt.Errorf("read the rollout plan of %s: %w", app.Name, err)
	}
	return &Plan{Plan: p.Plan, UpdatedBy: p.UpdatedBy, UpdatedAt: p.UpdatedAt}, nil
}

// PlanSet validates and stores the app's rollout plan (release managers).
// Running rollouts keep the plan they started with.
func (s *Service) PlanSet(ctx context.Context, appName string, plan ripcord.RolloutPlan) (*Plan, error) {
	if err := ripcord.Authorize(ctx, ripcord.RoleReleaseManager); err != nil {
		return nil, err
	}
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appName)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	by := ripcord.ActorFromContext(ctx).Name
	err = s.store.InTx(ctx, func(ctx context.Context, tx storage.Tx) error {
		before, err := s.planOf(ctx, tx, app)
		if err != nil {
			return err
		}
		if err := tx.RolloutPlanPut(ctx, &storage.RolloutPlan{AppID: app.ID, Plan: plan, UpdatedBy: by, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, ripcord.NewAuditEntry(ctx, now, "app.rollout_plan", "app/"+app.Name,
			map[string]any{"plan": before.Plan, "default": before.Default}, map[string]any{"plan": plan}))
	})
	if err != nil {
		return nil, fmt.Errorf("set the rollout plan of %s: %w", app.Name, err)
	}
	return &Plan{Plan: plan, UpdatedBy: by, UpdatedAt: now}, nil
}

func (s *Service) app(ctx context.Context, name string) (*ripcord.App, error) {
	app, err := s.store.AppGetByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ripcord.Errorf(ripcord.ENOTFOUND, "no app %s; `ripcord app list` shows the apps", name)
	}
	return app, err
}

// planFile is a rollout plan as people write it: YAML (or JSON), with
// durations as Go duration strings ("20h", "36h30m").
type planFile struct {
	TimeZone     *string     `yaml:"time_zone"`
	DueHour      *int        `yaml:"due_hour"`
	HoldWeekends *bool       `yaml:"hold_weekends"`
	Holidays     []string    `yaml:"holidays"`
	Android      []stageFile `yaml:"android"`
	IOS          []stageFile `yaml:"ios"`
}

type stageFile struct {
	Day         int     `yaml:"day"`
	Percent     float64 `yaml:"percent"`
	MinDuration string  `yaml:"min_duration"`
}

// typeNameRe finds the Go type names yaml puts in its messages, which mean
// nothing to the person who wrote the file.
var typeNameRe = regexp.MustCompile(` (in|into) (type )?[\w.\[\]*]+`)

// MaxPlanBytes bounds a plan file; real plans are a few hundred bytes.
const MaxPlanBytes = 64 << 10

// ParsePlan reads a rollout plan file. Fields left out take the default
// plan's values (a file may set only the time zone); unknown fields are
// refused so a typo does not silently keep a default. The result is
// validated with RolloutPlan.Validate. Errors say where the problem is.
func ParsePlan(data []byte) (ripcord.RolloutPlan, error) {
	if len(data) > MaxPlanBytes {
		return ripcord.RolloutPlan{}, ripcord.Errorf(ripcord.EINVALID, "rollout plan file is %d bytes; the limit is %d", len(data), MaxPlanBytes)
	}
	var f planFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msg = strings.Join(te.Errors, "; ")
		}
		msg = typeNameRe.ReplaceAllString(msg, "")
		return ripcord.RolloutPlan{}, ripcord.Errorf(ripcord.EINVALID, "rollout plan file: %s; see `ripcord app rollout-plan --help` for the fields", msg)
	}
	plan := ripcord.DefaultRolloutPlan()
	if f.TimeZone != nil {
		plan.TimeZone = *f.TimeZone
	}
	if f.DueHour != nil {
		plan.DueHour = *f.DueHour
	}
	if f.HoldWeekends != nil {
		plan.HoldWeekends = *f.HoldWeekends
	}
	if f.Holidays != nil {
		plan.Holidays = f.Holidays
	}
	var err error
	if f.Android != nil {
		if plan.Android, err = stagesOf(ripcord.Android, f.Android); err != nil {
			return ripcord.RolloutPlan{}, err
		}
	}
	if f.IOS != nil {
		if plan.IOS, err = stagesOf(ripcord.IOS, f.IOS); err != nil {
			return ripcord.RolloutPlan{}, err
		}
	}
	if err := plan.Validate(); err != nil {
		return ripcord.RolloutPlan{}, err
	}
	return plan, nil
}

func stagesOf(p ripcord.Platform, in []stageFile) ([]ripcord.RolloutStage, error) {
	out := make([]ripcord.RolloutStage, 0, len(in))
	for i, sf := range in {
		st := ripcord.RolloutStage{Day: sf.Day, Percent: sf.Percent}
		if sf.MinDuration != "" {
			d, err := time.ParseDuration(sf.MinDuration)
			if err != nil {
				return nil, ripcord.Errorf(ripcord.EINVALID, "%s stage %d: min_duration %q is not a duration such as 20h or 36h30m", p, i+1, sf.MinDuration)
			}
			st.MinDuration = d
		}
		out = append(out, st)
	}
	return out, nil
}
