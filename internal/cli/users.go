package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
	"github.com/ripcordhq/ripcord/internal/apiclient"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// userCmd manages people: like `token`, it works directly on the database
// when no --server is given, so the first admin can be added.
func (c *CLI) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage the people who sign in (admin); without --server, works directly on the database"}
	cmd.AddCommand(c.userCreateCmd(), c.userListCmd(), c.userSetTeamRolesCmd())
	return cmd
}

func (c *CLI) userCreateCmd() *cobra.Command {
	var email, name, role string
	var teams []string
	var passwordStdin bool
	create := &cobra.Command{Use: "create", Short: "Add a person; the password is read from standard input", Args: cobra.NoArgs,
		Long: "Adds a person with an access role (viewer, engineer, release-manager, admin) and optional team roles (tags such as qa-lead that gate approvals require). With --password-stdin the first line of standard input is the password (at least 12 characters); without it the person signs in through OIDC only."}
	flags := addConfigFlags(create)
	create.Flags().StringVar(&email, "email", "", "the person's email, their identity in the audit log")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&role, "role", "", "viewer, engineer, release-manager or admin")
	create.Flags().StringArrayVar(&teams, "team-role", nil, "a team role the person holds, e.g. qa-lead (repeat for more)")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("role")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		r, err := ripcord.ParseRole(role)
		if err != nil {
			return usageError{err}
		}
		var password string
		if passwordStdin {
			if password, err = readPasswordLine(c.env.Stdin); err != nil {
				return err
			}
		}
		req := httpapi.UserCreateRequest{Email: email, Name: name, Role: string(r), TeamRoles: teams, Password: password}
		var out httpapi.User
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "POST", "/api/v1/users", nil, req, &out)
			})
		} else {
			err = c.direct(cmd, flags(), func(ctx context.Context, svc *access.Service) error {
				u, err := svc.UserCreate(ctx, access.UserParams{Email: email, Name: name, Role: r, TeamRoles: teams, Password: password})
				if err == nil {
					out = httpapi.NewUser(u)
				}
				return err
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			how := "can sign in with their password"
			if password == "" {
				how = "has no password: they sign in through OIDC"
			}
			fmt.Fprintf(w, "Added %s with role %s%s; they %s.\n", out.Email, out.Role, teamSuffix(out.TeamRoles), how)
		})
	}
	return create
}

func teamSuffix(teams []string) string {
	if len(teams) == 0 {
		return ""
	}
	return " and team roles " + strings.Join(teams, ", ")
}

// readPasswordLine reads the first line of r as a password, without its
// line ending.
func readPasswordLine(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usageError{fmt.Errorf("--password-stdin: standard input is empty; pipe the password in, e.g. `printf '%%s\\n' \"$PW\" | ripcord user create ...`")}
	}
	return line, nil
}

func (c *CLI) userListCmd() *cobra.Command {
	list := &cobra.Command{Use: "list", Short: "List people (never their passwords)", Args: cobra.NoArgs}
	flags := addConfigFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		var out httpapi.List[httpapi.User]
		var err error
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "GET", "/api/v1/users", nil, nil, &out)
			})
		} else {
			err = c.direct(cmd, flags(), func(ctx context.Context, svc *access.Service) error {
				us, err := svc.UserList(ctx)
				for _, u := range us {
					out.Items = append(out.Items, httpapi.NewUser(u))
				}
				return err
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "EMAIL\tNAME\tROLE\tTEAM ROLES\tSTATE")
			for _, u := range out.Items {
				state := "active"
				if u.Disabled {
					state = "disabled"
				}
				teams := strings.Join(u.TeamRoles, ",")
				if teams == "" {
					teams = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, u.Role, teams, state)
			}
		})
	}
	return list
}

func (c *CLI) userSetTeamRolesCmd() *cobra.Command {
	set := &cobra.Command{Use: "set-team-roles EMAIL [TEAM_ROLE...]", Short: "Replace a person's team roles (none clears them)", Args: cobra.MinimumNArgs(1)}
	flags := addConfigFlags(set)
	set.RunE = func(cmd *cobra.Command, args []string) error {
		email, teams := args[0], args[1:]
		var out httpapi.User
		var err error
		if c.server != "" {
			err = c.withClient(cmd, apiclient.Timeout, func(ctx context.Context, cl *apiclient.Client) error {
				return cl.Do(ctx, "PUT", "/api/v1/users/"+url.PathEscape(email)+"/team-roles", nil, httpapi.UserTeamRolesRequest{TeamRoles: append([]string{}, teams...)}, &out)
			})
		} else {
			err = c.direct(cmd, flags(), func(ctx context.Context, svc *access.Service) error {
				u, err := svc.UserSetTeamRoles(ctx, email, teams)
				if err == nil {
					out = httpapi.NewUser(u)
				}
				return err
			})
		}
		if err != nil {
			return err
		}
		return c.print(out, func(w *tabwriter.Writer) {
			if len(out.TeamRoles) == 0 {
				fmt.Fprintf(w, "%s holds no team roles now.\n", out.Email)
				return
			}
			fmt.Fprintf(w, "%s holds team roles %s now.\n", out.Email, strings.Join(out.TeamRoles, ", "))
		})
	}
	return set
}
