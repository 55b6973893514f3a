package web

import (
	"fmt"

	"github.com/ripcordhq/ripcord"
)

// Action kinds a person can take from the release page.
const (
	ActionHalt     = "halt"     // Google Play: stop new installs
	ActionPause    = "pause"    // App Store: pause the phased release
	ActionResume   = "resume"   // continue a halted or paused rollout
	ActionRollback = "rollback" // release the prepared rollback build
)

// Plan is what an action will do in the store, written so that the person
// confirming it at 3 a.m. knows exactly which versions move.
type Plan struct {
	Kind     string
	Platform ripcord.Platform
	Label    string   // the button: "Halt", "Pause", "Resume", "Roll back"
	Title    string   // "Halt 1.2.0 on Google Play"
	Sentence string   // what happens in the store
	Steps    []string // the steps the action runs, in order
	// Possible is false, with Why, when the action cannot run now.
	Possible bool
	Why      string
}

// PlanAction writes the plan of kind on a release's platform from what the
// release page knows: the target build and the rollback build.
func PlanAction(kind string, rel *ripcord.Release, pv *ReleasePlatformView) (pl Plan) {
	p := pv.Platform
	pl = Plan{Kind: kind, Platform: p, Label: actionLabels[kind], Possible: true}
	defer func() {
		// The state machine has the last word: a rolled-back release
		// cannot be halted, a rolling one cannot be resumed.
		if ev, ok := actionEvents[kind]; ok && pl.Possible {
			if _, err := ripcord.Transition(p, pv.Status, ev); err != nil {
				pl.Possible, pl.Why = false, ripcord.ErrorMessage(err)
			}
		}
	}()
	target := rel.Version
	code := "?"
	if pv.Build != nil {
		code = pv.Build.BuildNumber
	}
	rb := pv.Rollback
	rbReady := rb != nil && rb.State == ripcord.RollbackReady && rb.Version != ""
	switch {
	case kind == ActionHalt && p == ripcord.Android:
		pl.Title = fmt.Sprintf("Halt %s on Google Play", target)
		pl.Sentence = fmt.Sprintf("One edit on Google Play: halt %s (versionCode %s) on the production track. People who already have %s keep it; nobody else gets it. Resume continues at the same percentage.", target, code, target)
		pl.Steps = []string{"Open an edit on Google Play", fmt.Sprintf("Set %s (%s) on production to halted and commit the edit", target, code), fmt.Sprintf("Record %s as halted, with its audit entry", target)}
	case kind == ActionPause && p == ripcord.IOS:
		pl.Title = fmt.Sprintf("Pause %s on the App Store", target)
		pl.Sentence = fmt.Sprintf("App Store Connect: pause the phased release of %s (build %s). Automatic updates stop; people who update by hand still get %s. A phased release may be paused for 30 days in total.", target, code, target)
		pl.Steps = []string{fmt.Sprintf("Set the phased release of %s to paused in App Store Connect", target), fmt.Sprintf("Record %s as paused, with its audit entry", target)}
	case kind == ActionResume:
		pl.Title = fmt.Sprintf("Resume %s on %s", target, p.StoreName())
		pl.Sentence = fmt.Sprintf("%s: resume the rollout of %s (%s) where it stopped.", p.StoreName(), target, code)
		pl.Steps = []string{fmt.Sprintf("Resume %s (%s) in %s", target, code, p.StoreName()), fmt.Sprintf("Record %s as rolling out, with its audit entry", target)}
	case kind == ActionRollback && p == ripcord.Android:
		pl.Title = fmt.Sprintf("Roll back %s on Google Play", target)
		if !rbReady {
			pl.Possible, pl.Why = false, rollbackNotReady(rb)
			pl.Sentence = fmt.Sprintf("No rollback build of %s is ready, so there is nothing to release. Halt %s instead.", target, target)
			return pl
		}
		pl.Sentence = fmt.Sprintf("One edit on Google Play: halt %s (versionCode %s) and release %s (%s) to 100 %% of production.", target, code, rb.Version, rb.BuildNumber)
		pl.Steps = []string{fmt.Sprintf("Check that rollback build %s (%s) is ready", rb.Version, rb.BuildNumber),
			fmt.Sprintf("One Google Play edit: halt %s (%s) and release %s (%s) to 100 %% of production", target, code, rb.Version, rb.BuildNumber),
			fmt.Sprintf("Record %s as rolled back, with its audit entry", target)}
	case kind == ActionRollback && p == ripcord.IOS:
		pl.Title = fmt.Sprintf("Roll back %s on the App Store", target)
		if rb == nil || !rb.ReleasableOnIOS() {
			pl.Possible, pl.Why = false, rollbackNotReady(rb)
			if rb != nil && rb.State == ripcord.RollbackReady {
				pl.Why = fmt.Sprintf("App Store version %s is not approved yet (state %s); until it is, pause the phased release instead", rb.Version, orUnknown(rb.StoreVersionState))
			}
			pl.Sentence = fmt.Sprintf("No approved rollback version of %s waits in App Store Connect, so there is nothing to release. Pause %s instead.", target, target)
			return pl
		}
		pl.Sentence = fmt.Sprintf("App Store Connect: release version %s (build %s), which replaces %s for everyone.", rb.Version, rb.BuildNumber, target)
		pl.Steps = []string{fmt.Sprintf("Check that App Store version %s is approved", rb.Version), fmt.Sprintf("Release version %s in App Store Connect", rb.Version),
			fmt.Sprintf("Record %s as rolled back, with its audit entry", target)}
	default:
		pl.Title = fmt.Sprintf("%s %s", kind, target)
		pl.Possible, pl.Why = false, fmt.Sprintf("%s has no %s", p.StoreName(), kind)
	}
	return pl
}

var actionLabels = map[string]string{ActionHalt: "Halt", ActionPause: "Pause", ActionResume: "Resume", ActionRollback: "Roll back"}

var actionEvents = map[string]ripcord.ReleaseEvent{ActionHalt: ripcord.EventHalt, ActionPause: ripcord.EventPause, ActionResume: ripcord.EventResume, ActionRollback: ripcord.EventRollback}

func rollbackNotReady(rb *ripcord.RollbackBuild) string {
	if rb == nil {
		return "no rollback build is known"
	}
	if rb.Reason != "" {
		return fmt.Sprintf("the rollback build is %s: %s", rb.State, rb.Reason)
	}
	return fmt.Sprintf("the rollback build is %s", rb.State)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// stopKind is the action that stops a platform's rollout: halt on Google
// Play, pause on the App Store.
func stopKind(p ripcord.Platform) string {
	if p == ripcord.IOS {
		return ActionPause
	}
	return ActionHalt
}
