package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/server"
)

// adminCommand is `sesame admin create`: the first administrator, made
// directly in the configured store (logic in internal/admin).
func adminCommand(stdout, stderr io.Writer, environ []string) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage administrators directly in the store"}
	var n admin.NewAdmin
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a system administrator (or, with --tenant, a tenant administrator): a user of the system tenant, or an admin application",
		Long: `Creates the user (or, with --client-id, a confidential client_credentials
application) in the system tenant unless it exists, and grants it the role.
A generated password or client secret is printed once. Run it against the
configuration the server uses (same storage and secrets).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (n.Username == "") == (n.ClientID == "") {
				return errors.New("give exactly one of --username and --client-id")
			}
			if passwordStdin {
				if n.ClientID != "" {
					return errors.New("--password-stdin is for --username")
				}
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				if n.Password = strings.TrimRight(line, "\r\n"); n.Password == "" {
					return errors.New("no password on standard input")
				}
			}
			cfg, err := loadConfig(cmd, environ)
			if err != nil {
				return err
			}
			setup, closer, err := server.OpenAdmin(cmd.Context(), cfg, newLogger(cfg, stderr))
			if err != nil {
				return err
			}
			defer closer.Close()
			res, err := setup.CreateAdmin(cmd.Context(), n)
			if err != nil {
				return err
			}
			base, _ := admin.SystemBase(cfg.Admin.Domain, cfg.Server.PublicURL)
			switch {
			case res.Username != "":
				verb := "now"
				if res.Created {
					verb = "created;"
				}
				fmt.Fprintf(stdout, "user %q (id %s) of the system tenant %s %s.\n", res.Username, res.UserID, verb, res.Role)
				if res.Password != "" {
					fmt.Fprintf(stdout, "password (shown only once): %s\n", res.Password)
				}
				fmt.Fprintf(stdout, "sign in to the console: %s%s\n", base, admin.ConsolePath)
			default:
				verb := "now"
				if res.Created {
					verb = "created;"
				}
				fmt.Fprintf(stdout, "application %q of the system tenant %s %s.\n", res.ClientID, verb, res.Role)
				if res.ClientSecret != "" {
					fmt.Fprintf(stdout, "client_secret (shown only once): %s\n", res.ClientSecret)
				}
				fmt.Fprintf(stdout, "get a token: curl -s -u '%s:<client_secret>' -d grant_type=client_credentials %s/api/v1/oauth2/token\n", res.ClientID, base)
			}
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&n.Username, "username", "", "user name of the administrator (a user of the system tenant)")
	f.StringVar(&n.ClientID, "client-id", "", "client id of an admin application (client_credentials) instead of a user")
	f.StringVar(&n.TenantID, "tenant", "", "make a tenant administrator of this tenant (default: system administrator)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (default: generate one for a new user)")
	cmd.AddCommand(create)
	return cmd
}
