package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/healthwatch"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// withClient runs fn with an API client and a bounded context.
func (c *CLI) withClient(cmd *cobra.Command, timeout time.Duration, fn func(ctx context.Context, cl *apiclient.Client) error) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return fn(ctx, cl)
}

func appPath(app string) string { return "/api/v1/apps/" + url.PathEscape(app) }

func (c *CLI) appCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Register and list apps"}
	var req httpapi.AppCreateRequest
	create := &cobra.Command{Use: "create NAME", Short: "Register an app (admin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var a httpapi.App
				if err := cl.Do(ctx, "POST", "/api/v1/apps", nil, req, &a); err != nil {
					return err
				}
				return c.printApps([]httpapi.App{a}, a)
			})
		}}
	create.Flags().StringVar(&req.IOSBundleID, "ios-bundle-id", "", "iOS bundle identifier, e.g. com.acme.shop")
	create.Flags().StringVar(&req.AndroidPackage, "android-package", "", "Android package name, e.g. com.acme.shop")
	list := &cobra.Command{Use: "list", Short: "List apps", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var l httpapi.List[httpapi.App]
				if err := cl.Do(ctx, "GET", "/api/v1/apps", nil, nil, &l); err != nil {
					return err
				}
				return c.printApps(l.Items, l)
			})
		}}
	show := &cobra.Command{Use: "show NAME", Short: "Show an app", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var a httpapi.App
				if err := cl.Do(ctx, "GET", appPath(args[0]), nil, nil, &a); err != nil {
					return err
				}
				return c.printApp(a)
			})
		}}
	cmd.AddCommand(create, list, show, c.appCredentialsCmd())
	cmd.AddCommand(c.appRolloutPlanCmd()) // staged rollouts
	return cmd
}

func (c *CLI) printApps(apps []httpapi.App, v any) error {
	return c.print(v, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tIOS BUNDLE ID\tANDROID PACKAGE\tCREATED")
		for _, a := range apps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Name, dash(a.IOSBundleID), dash(a.AndroidPackage), a.CreatedAt.Format(time.DateTime))
		}
	})
}

// printApp shows one app with its Sentry DSN per platform.
func (c *CLI) printApp(a httpapi.App) error {
	return c.print(a, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tIOS BUNDLE ID\tANDROID PACKAGE\tCREATED")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Name, dash(a.IOSBundleID), dash(a.AndroidPackage), a.CreatedAt.Format(time.DateTime))
		if len(a.DSN) == 0 {
			return
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "PLATFORM\tSENTRY DSN")
		for _, p := range []string{"android", "ios"} {
			if d, ok := a.DSN[p]; ok {
				fmt.Fprintf(w, "%s\t%s\n", p, d)
			}
		}
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *CLI) buildCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Upload and list builds"}
	var app, platform, version, buildNumber, file, commit string
	upload := &cobra.Command{Use: "upload", Short: "Upload a build artifact (engineer)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := ripcord.ParsePlatform(platform); err != nil {
				return usageError{err}
			}
			id, readable, err := readArtifactIdentity(cmd.Context(), file)
			if err != nil {
				return err
			}
			if readable {
				if err := reconcileIdentity(id, ripcord.Platform(platform), &version, &buildNumber); err != nil {
					return err
				}
			} else if version == "" || buildNumber == "" {
				return usagef("%s is not an artifact Ripcord can read the version from: give --version and --build-number", file)
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("open artifact: %w", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("open artifact: %w", err)
			}
			if st.IsDir() {
				return fmt.Errorf("artifact %s is a directory; give the .apk, .aab or .ipa file", file)
			}
			var body io.Reader = sizedReader{Reader: f, size: st.Size()}
			if c.env.IsTerminal != nil && c.env.IsTerminal(c.env.Stderr) && !c.jsonOut {
				p := newProgress(c.env.Stderr, st.Size())
				defer p.done()
				body = sizedReader{Reader: io.TeeReader(f, p), size: st.Size()}
			}
			q := url.Values{"platform": {platform}, "version": {version}, "build_number": {buildNumber}}
			if commit != "" {
				q.Set("source_commit", commit)
			}
			return c.withClient(cmd, 0, func(ctx context.Context, cl *apiclient.Client) error {
				if readable {
					var a httpapi.App
					if err := cl.Do(ctx, "GET", appPath(app), nil, nil, &a); err != nil {
						return err
					}
					if want := appStoreID(a, ripcord.Platform(platform)); want != id.StoreID {
						return fmt.Errorf("%s is %s, but app %s is %s on %s; upload it to the app it belongs to", file, id.StoreID, app, want, platform)
					}
				}
				var b httpapi.Build
				if err := cl.Do(ctx, "POST", appPath(app)+"/builds", q, body, &b); err != nil {
					return err
				}
				return c.printBuilds([]httpapi.Build{b}, b)
			})
		}}
	uf := upload.Flags()
	uf.StringVar(&app, "app", "", "app name")
	uf.StringVar(&platform, "platform", "", "ios or android")
	uf.StringVar(&file, "file", "", "artifact file (.apk, .aab, .ipa)")
	uf.StringVar(&version, "version", "", "version (CFBundleShortVersionString / versionName); read from the artifact when omitted, checked against it when given")
	uf.StringVar(&buildNumber, "build-number", "", "build number (CFBundleVersion / versionCode); read from the artifact when omitted, checked against it when given")
	uf.StringVar(&commit, "source-commit", "", "VCS commit the build came from")
	for _, f := range []string{"app", "platform", "file"} {
		_ = upload.MarkFlagRequired(f)
	}

	var lapp, lplatform, lversion string
	list := &cobra.Command{Use: "list", Short: "List builds, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if lplatform != "" {
				q.Set("platform", lplatform)
			}
			if lversion != "" {
				q.Set("version", lversion)
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var l httpapi.List[httpapi.Build]
				if err := cl.Do(ctx, "GET", appPath(lapp)+"/builds", q, nil, &l); err != nil {
					return err
				}
				return c.printBuilds(l.Items, l)
			})
		}}
	list.Flags().StringVar(&lapp, "app", "", "app name")
	list.Flags().StringVar(&lplatform, "platform", "", "only ios or android")
	list.Flags().StringVar(&lversion, "version", "", "only this version")
	_ = list.MarkFlagRequired("app")
	cmd.AddCommand(upload, list)
	return cmd
}

// sizedReader tells the client the body's length, so the server can refuse
// an oversize upload before reading it.
type sizedReader struct {
	io.Reader
	size int64
}

func (s sizedReader) Size() int64 { return s.size }

func (c *CLI) printBuilds(bs []httpapi.Build, v any) error {
	return c.print(v, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tPLATFORM\tVERSION\tBUILD\tSIZE\tSHA256\tUPLOADED BY\tCREATED")
		for _, b := range bs {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Platform, b.Version, b.BuildNumber, humanBytes(b.Size), b.SHA256[:12], b.UploadedBy, b.CreatedAt.Format(time.DateTime))
		}
	})
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (c *CLI) releaseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "release", Short: "Create and inspect releases (APP VERSION)"}
	create := &cobra.Command{Use: "create APP VERSION", Short: "Create a release (release-manager)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var r httpapi.Release
				if err := cl.Do(ctx, "POST", appPath(args[0])+"/releases", nil, httpapi.ReleaseCreateRequest{Version: args[1]}, &r); err != nil {
					return err
				}
				return c.printReleases([]httpapi.Release{r}, r)
			})
		}}
	list := &cobra.Command{Use: "list APP", Short: "List an app's releases", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var l httpapi.List[httpapi.Release]
				if err := cl.Do(ctx, "GET", appPath(args[0])+"/releases", nil, nil, &l); err != nil {
					return err
				}
				return c.printReleases(l.Items, l)
			})
		}}
	show := &cobra.Command{Use: "show APP VERSION", Short: "Show a release", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var r httpapi.Release
				if err := cl.Do(ctx, "GET", appPath(args[0])+"/releases/"+url.PathEscape(args[1]), nil, nil, &r); err != nil {
					return err
				}
				return c.printReleaseShow(r, r) // with the rollout schedule
			})
		}}
	var hplatform string
	healthCmd := &cobra.Command{Use: "health APP VERSION", Short: "Show a release's health per platform and metric, with the current decision", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if hplatform != "" {
				q.Set("platform", hplatform)
			}
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				var rep healthwatch.Report
				if err := cl.Do(ctx, "GET", appPath(args[0])+"/releases/"+url.PathEscape(args[1])+"/health", q, nil, &rep); err != nil {
					return err
				}
				return c.print(rep, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "PLATFORM\tMETRIC\tBAD\tTOTAL\tDATA THROUGH\tDECISION")
					for _, p := range rep.Platforms {
						if len(p.Metrics) == 0 {
							fmt.Fprintf(w, "%s\t-\t\t\t\tno data yet\n", p.Platform)
						}
						for _, m := range p.Metrics {
							fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", p.Platform, m.Metric, m.Counts.Bad, m.Counts.Total,
								m.DataThrough.Format(time.DateTime), m.Decision.Sentence)
						}
					}
					printHealthSources(w, rep)
				})
			})
		}}
	healthCmd.Flags().StringVar(&hplatform, "platform", "", "only ios or android")
	var prepare bool
	var rbPlatform string
	rollbackBuild := &cobra.Command{Use: "rollback-build APP VERSION",
		Short: "Show the rollback build prepared for a release; --prepare queues its preparation (release-manager)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				method := "GET"
				if prepare {
					method = "POST"
				}
				q := url.Values{}
				if rbPlatform != "" {
					if _, err := ripcord.ParsePlatform(rbPlatform); err != nil {
						return usageError{err}
					}
					q.Set("platform", rbPlatform)
				}
				var rb httpapi.RollbackBuild
				if err := cl.Do(ctx, method, appPath(args[0])+"/releases/"+url.PathEscape(args[1])+"/rollback-build", q, nil, &rb); err != nil {
					return err
				}
				return c.print(rb, func(w *tabwriter.Writer) { printRollbackBuild(w, rb) })
			})
		}}
	rollbackBuild.Flags().BoolVar(&prepare, "prepare", false, "queue its preparation (once; a preparation already queued or running is not repeated)")
	rollbackBuild.Flags().StringVar(&rbPlatform, "platform", "", "android (default) or ios")
	rollbackBuild.AddCommand(c.rollbackWithdrawCmd())
	cmd.AddCommand(create, list, show, healthCmd, rollbackBuild,
		c.rolloutCmd("halt", "Stop a release's rollout: halt it on Google Play, pause the phased release on the App Store (release-manager)"),
		c.rolloutCmd("resume", "Resume a halted or paused rollout where it stopped (release-manager)"),
		c.rolloutCmd("rollback", "Roll a release back: release its ready rollback build to everyone (Play: one edit that also halts it; App Store: release the approved rollback version) (release-manager)"))
	cmd.AddCommand(c.stageCmds()...)      // staged rollouts
	cmd.AddCommand(c.releaseChangesCmd()) // what a release touches, for the gate
	return cmd
}

func (c *CLI) printReleases(rs []httpapi.Release, v any) error {
	return c.print(v, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "APP\tVERSION\tSTATUS\tPLATFORMS\tCREATED BY\tCREATED")
		for _, r := range rs {
			var ps []string
			for _, p := range r.Platforms {
				s := p.Platform + ":" + p.Status
				if p.BuildID != 0 {
					s += fmt.Sprintf("(build %d)", p.BuildID)
				}
				ps = append(ps, s)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.App, r.Version, r.Status, strings.Join(ps, " "), r.CreatedBy, r.CreatedAt.Format(time.DateTime))
		}
	})
}

func appStoreID(a httpapi.App, p ripcord.Platform) string {
	if p == ripcord.IOS {
		return a.IOSBundleID
	}
	return a.AndroidPackage
}
