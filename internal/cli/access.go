package cli

import (
	"context"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/daemon"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// direct runs fn on the configured database as a local admin: how the first
// token is made before any server or token exists. It is used when no
// --server is given.
func (c *CLI) direct(cmd *cobra.Command, flags map[string]string, fn func(ctx context.Context, svc *access.Service) error) error {
	st, done, err := c.openStore(cmd.Context(), flags)
	if err != nil {
		return err
	}
	defer done()
	if err := daemon.SchemaCurrent(cmd.Context(), st); err != nil {
		return fmt.Errorf("%w; run `ripcord migrate up` first", err)
	}
	return fn(daemon.LocalContext(cmd.Context(), osUser(c.env.Environ)), access.New(st, nil))
}

func (c *CLI) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (admin); without --server, works directly on the database"}
	var name, role, user string
	create := &cobra.Command{Use: "create", Short: "Create a token and print its secret once", Args: cobra.NoArgs}
	cflags := addConfigFlags(create)
	create.Flags().StringVar(&user, "user", "", "bind the token to the person with this email: it acts as them, with at most their role")
	create.Flags().StringVar(&name, "name", "", "token name, e.g. ci")
	create.Flags().StringVar(&role, "role", "", "viewer, engineer, release-manager or admin")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		r, err := ripcord.ParseRole(role)
		if err != nil {
			return usageError{err}
		}
		var out httpapi.TokenCreated
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "POST", "/api/v1/tokens", nil, httpapi.TokenCreateRequest{Name: name, Role: string(r), User: user}, &out)
			})
		} else {
			err = c.direct(cmd, cflags(), func(ctx context.Context, svc *access.Service) error {
				secret, t, err := svc.TokenCreateForUser(ctx, name, r, user)
				if err != nil {
					return err
				}
				out = httpapi.TokenCreated{Token: httpapi.NewToken(t), Secret: secret}
				if t.UserID != 0 {
					out.User, _ = ripcord.NormalizeEmail(user)
				}
				return nil
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			if out.User != "" {
				fmt.Fprintf(w, "The token acts as %s, with at most their role.\n", out.User)
			}
			fmt.Fprintf(w, "Created token %q with role %s. Its secret is shown only now:\n\n%s\n\nUse it as RIPCORD_TOKEN or --token.\n", out.Name, out.Role, out.Secret)
		})
	}

	list := &cobra.Command{Use: "list", Short: "List tokens (never their secrets)", Args: cobra.NoArgs}
	lflags := addConfigFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		var out httpapi.List[httpapi.Token]
		var err error
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "GET", "/api/v1/tokens", nil, nil, &out)
			})
		} else {
			err = c.direct(cmd, lflags(), func(ctx context.Context, svc *access.Service) error {
				ts, err := svc.TokenList(ctx)
				for _, t := range ts {
					out.Items = append(out.Items, httpapi.NewToken(t))
				}
				return err
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "NAME\tROLE\tPREFIX\tCREATED BY\tCREATED\tLAST USED\tSTATE")
			for _, t := range out.Items {
				used, state := "never", "active"
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.Format(time.DateTime)
				}
				if t.RevokedAt != nil {
					state = "revoked " + t.RevokedAt.Format(time.DateTime)
				}
				fmt.Fprintf(w, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Prefix, t.CreatedBy, t.CreatedAt.Format(time.DateTime), used, state)
			}
		})
	}

	revoke := &cobra.Command{Use: "revoke NAME", Short: "Revoke a token; it stops working at once", Args: cobra.ExactArgs(1)}
	rflags := addConfigFlags(revoke)
	revoke.RunE = func(cmd *cobra.Command, args []string) error {
		var out httpapi.Token
		var err error
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(args[0]), nil, nil, &out)
			})
		} else {
			err = c.direct(cmd, rflags(), func(ctx context.Context, svc *access.Service) error {
				t, err := svc.TokenRevoke(ctx, args[0])
				if err == nil {
					out = httpapi.NewToken(t)
				}
				return err
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Token %q is revoked.\n", out.Name) })
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (c *CLI) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the audit log"}
	verify := &cobra.Command{Use: "verify", Short: "Recompute the audit hash chain and name the first broken entry", Args: cobra.NoArgs}
	flags := addConfigFlags(verify)
	verify.RunE = func(cmd *cobra.Command, _ []string) error {
		var out httpapi.AuditVerifyResult
		var err error
		if c.server != "" {
			err = c.withClient(cmd, 10*time.Minute, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "GET", "/api/v1/audit/verify", nil, nil, &out)
			})
		} else {
			err = c.direct(cmd, flags(), func(ctx context.Context, svc *access.Service) error {
				rep, err := svc.AuditVerify(ctx)
				if err != nil {
					return err
				}
				out = httpapi.AuditVerifyResult{OK: rep.Break == nil, Entries: rep.Entries}
				if rep.Break != nil {
					out.BrokenSeq, out.Reason = rep.Break.Seq, rep.Break.Reason
				}
				return nil
			})
		}
		if err != nil {
			return err
		}
		if perr := c.print(out, func(w *tabwriter.Writer) {
			if out.OK {
				fmt.Fprintf(w, "audit log intact: %d entries verified\n", out.Entries)
			}
		}); perr != nil {
			return perr
		}
		if !out.OK {
			return fmt.Errorf("audit log broken at entry %d: %s (%d entries before it verified)", out.BrokenSeq, out.Reason, out.Entries)
		}
		return nil
	}
	cmd.AddCommand(verify)
	return cmd
}
