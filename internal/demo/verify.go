package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/play"
)

// Verify checks the stores' end state through their public APIs, with the
// credentials a team would use, the way anyone would after the demo: on
// Google Play's production track 1.2.0 (120) is halted and the rollback
// 1.2.1 (121) completed; on the App Store 1.2.1 is the version for sale.
func (s *Story) Verify(ctx context.Context) error {
	creds := s.env.Fake.Credentials()
	pc, err := play.New(ctx, play.Config{ServiceAccountJSON: creds.PlayServiceAccountJSON, Endpoint: s.env.FakeURL + "/"})
	if err != nil {
		return err
	}
	tr, err := pc.GetTrack(ctx, BundleID, play.TrackProduction)
	if err != nil {
		return err
	}
	var problems []string
	if r := tr.Find(targetBuild); r == nil || r.Status != play.StatusHalted {
		problems = append(problems, fmt.Sprintf("Google Play: %d is not halted on production (%+v)", targetBuild, tr.Releases))
	}
	if r := tr.Find(rollbackBuildNumber); r == nil || r.Status != play.StatusCompleted {
		problems = append(problems, fmt.Sprintf("Google Play: the rollback %d is not completed on production (%+v)", rollbackBuildNumber, tr.Releases))
	}
	asc, err := appstore.New(appstore.Config{KeyID: creds.ASCKeyID, IssuerID: creds.ASCIssuerID, PrivateKeyPEM: creds.ASCPrivateKeyPEM, BaseURL: s.env.FakeURL})
	if err != nil {
		return err
	}
	app, err := asc.FindApp(ctx, BundleID)
	if err != nil {
		return err
	}
	versions, err := asc.ListVersions(ctx, app.ID, "IOS")
	if err != nil {
		return err
	}
	var states []string
	live := ""
	for _, v := range versions {
		states = append(states, v.VersionString+" "+v.State)
		if v.State == appstore.StateReadyForDistribution {
			live = v.VersionString
		}
	}
	if live != rollbackVersion {
		problems = append(problems, fmt.Sprintf("App Store: %s is not the version for sale (versions: %s)", rollbackVersion, strings.Join(states, ", ")))
	}
	if len(problems) > 0 {
		return errors.New("the stores did not end as expected: " + strings.Join(problems, "; "))
	}
	s.printf("%-7s Google Play production: %d halted, %d completed; App Store: %s READY_FOR_DISTRIBUTION", "ok", targetBuild, rollbackBuildNumber, rollbackVersion)
	return nil
}
