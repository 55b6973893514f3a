package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// RunOptions configure Run.
type RunOptions struct {
	Options
	// Scripted plays the story as fast as it goes, checks the stores' end
	// state and returns; otherwise the story plays at a watchable pace
	// and the server keeps running until ctx ends.
	Scripted bool
	// Out receives the story and the sign-in details.
	Out io.Writer
}

// Run starts the demo environment, seeds it and plays the story. In
// scripted mode it returns nil only when the fake stores end in the
// expected state.
func Run(ctx context.Context, opts RunOptions) error {
	e, err := Start(ctx, opts.Options)
	if err != nil {
		return err
	}
	defer e.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- e.Daemon.Run(runCtx) }()

	seeded, err := e.Seed(ctx)
	if err != nil {
		return err
	}
	w := opts.Out
	fmt.Fprintf(w, "Ripcord demo is running at %s\n\n", e.Daemon.URL())
	fmt.Fprintf(w, "  state        %s (database, artifacts, fake stores)\n", e.Dir)
	fmt.Fprintf(w, "  fake stores  %s (App Store Connect and Google Play)\n", e.FakeURL)
	fmt.Fprintf(w, "  sample app   %s (%s), %s live on both stores, %s going out\n", AppName, BundleID, liveVersion, targetVersion)
	fmt.Fprintf(w, "  sign in      %s / %s\n", UserEmail, seeded.Password)
	fmt.Fprintf(w, "  admin token  %s\n\n", seeded.AdminToken)
	fmt.Fprintf(w, "  export RIPCORD_SERVER=%s RIPCORD_TOKEN=%s\n\n", e.Daemon.URL(), seeded.AdminToken)

	pace := 2 * time.Second
	if opts.Scripted {
		pace = 0
	}
	story, err := NewStory(e, seeded, w, pace)
	if err != nil {
		return err
	}
	playErr := story.Play(ctx)
	if ctx.Err() != nil { // interrupted (Ctrl-C): stop quietly, like the server
		stop()
		<-served
		return nil
	}
	if playErr == nil {
		playErr = story.Verify(ctx)
	}
	if playErr == nil {
		fmt.Fprintf(w, "\nThe stores ended as expected.\n")
	}
	if opts.Scripted || playErr != nil {
		stop()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
			return errors.Join(playErr, err)
		}
		return playErr
	}
	fmt.Fprintf(w, "\nThe server keeps running; press Ctrl-C to stop.\n")
	return <-served
}
