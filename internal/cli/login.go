package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Login is what `sesame login` stores: the server, the admin
// application's credentials and its current access token.
type Login struct {
	Server       string    `json:"server"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret"`
	AccessToken  string    `json:"access_token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// expirySlack renews a token this long before it expires, so that it does
// not expire between the check and the server's.
const expirySlack = 30 * time.Second

// loginPath is $XDG_CONFIG_HOME/sesame/cli.json, or
// $HOME/.config/sesame/cli.json (XDG Base Directory Specification).
func (e Env) loginPath() (string, error) {
	if d := e.getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sesame", "cli.json"), nil
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "sesame", "cli.json"), nil
	}
	return "", errors.New("cannot place the login file: neither XDG_CONFIG_HOME nor HOME is set")
}

// readLogin returns the stored login, or nil when there is none.
func (e Env) readLogin() (*Login, error) {
	p, err := e.loginPath()
	if err != nil {
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Login
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w (run `sesame login` again)", p, err)
	}
	return &l, nil
}

// writeLogin stores l readable by its owner only: it holds a client
// secret. The file is written aside and renamed, so that a crash never
// leaves half a file, and its mode is set before anything is written.
func (e Env) writeLogin(l *Login) error {
	p, err := e.loginPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".cli-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// clientCredentials runs the client_credentials grant (RFC 6749 §4.4) at
// the system tenant's token endpoint, authenticating with HTTP Basic
// (RFC 6749 §2.3.1).
func (e Env) clientCredentials(ctx context.Context, server, clientID, secret string) (token string, expires time.Time, err error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(server, "/")+"/api/v1/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := e.httpClient().Do(req)
	if err != nil {
		return "", time.Time{}, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, err
	}
	if json.Unmarshal(raw, &body) != nil || (resp.StatusCode == 200 && body.AccessToken == "") {
		return "", time.Time{}, fmt.Errorf("token endpoint of %s: HTTP %d, not an OAuth answer (is --server the admin domain?)", server, resp.StatusCode)
	}
	if resp.StatusCode != 200 {
		msg := body.Error
		if body.Description != "" {
			msg += ": " + body.Description
		}
		return "", time.Time{}, fmt.Errorf("token endpoint of %s refused the client credentials (HTTP %d): %s", server, resp.StatusCode, msg)
	}
	if body.ExpiresIn <= 0 {
		body.ExpiresIn = 300
	}
	return body.AccessToken, e.now().Add(time.Duration(body.ExpiresIn) * time.Second), nil
}

// client returns the admin API client of a command, from its flags, the
// environment and the stored login (in that order).
func (e Env) client(cmd *cobra.Command) (*Client, error) {
	server, _ := cmd.Flags().GetString("server")
	token, _ := cmd.Flags().GetString("token")
	if server == "" {
		server = e.getenv("SESAME_SERVER")
	}
	if token == "" {
		token = e.getenv("SESAME_TOKEN")
	}
	login, err := e.readLogin()
	if err != nil {
		return nil, err
	}
	if server == "" && login != nil {
		server = login.Server
	}
	if server == "" {
		return nil, errNoServer()
	}
	if err := checkServerURL(server); err != nil {
		return nil, err
	}
	c := &Client{Server: server, HTTP: e.httpClient()}
	switch {
	case token != "":
		c.Token = func(_ context.Context, retry bool) (string, error) {
			if retry {
				return "", &APIError{Status: 401, Code: "unauthorized", Message: "the server refused the token (expired or revoked?)"}
			}
			return token, nil
		}
	case login != nil && sameServer(login.Server, server):
		c.Token = func(ctx context.Context, retry bool) (string, error) {
			if !retry && login.AccessToken != "" && e.now().Add(expirySlack).Before(login.ExpiresAt) {
				return login.AccessToken, nil
			}
			// Expired, or refused by the server: a new one with the stored
			// credentials.
			tok, exp, err := e.clientCredentials(ctx, login.Server, login.ClientID, login.ClientSecret)
			if err != nil {
				return "", fmt.Errorf("renewing the stored login: %w (run `sesame login` again)", err)
			}
			login.AccessToken, login.ExpiresAt = tok, exp
			if err := e.writeLogin(login); err != nil {
				return "", err
			}
			return tok, nil
		}
	default:
		return nil, errNoToken()
	}
	return c, nil
}

func sameServer(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("--server %q: give the base URL of the admin domain, e.g. https://admin.example.com", s)
	}
	return nil
}

func (e Env) loginCommand() *cobra.Command {
	var server, clientID string
	var secretStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a server's admin API with an admin application (client_credentials) and store the login",
		Long: `Gets an access token with the client credentials of an admin application
(made with "sesame admin create --client-id ID") and stores the server, the
credentials and the token in $XDG_CONFIG_HOME/sesame/cli.json (mode 0600).
Later commands use it and renew the token when it expires.`,
		Example: `  printf '%s\n' "$SECRET" | sesame login --server https://admin.example.com --client-id ci-bot --client-secret-stdin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				server = e.getenv("SESAME_SERVER")
			}
			if server == "" {
				return errors.New("--server is required (the admin domain's base URL)")
			}
			if err := checkServerURL(server); err != nil {
				return err
			}
			if clientID == "" {
				return errors.New("--client-id is required")
			}
			if !secretStdin {
				return errors.New("give the client secret on standard input with --client-secret-stdin (not as an argument, which other users can see)")
			}
			secret, err := firstLine(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if secret == "" {
				return errors.New("no client secret on standard input")
			}
			tok, exp, err := e.clientCredentials(cmd.Context(), server, clientID, secret)
			if err != nil {
				return err
			}
			l := &Login{Server: strings.TrimRight(server, "/"), ClientID: clientID, ClientSecret: secret, AccessToken: tok, ExpiresAt: exp}
			c := &Client{Server: l.Server, HTTP: e.httpClient(), Token: func(context.Context, bool) (string, error) { return tok, nil }}
			me, err := c.Me(cmd.Context())
			if err != nil {
				// A valid application without an admin role: nothing to store.
				return fmt.Errorf("the admin API refused %s: %w", clientID, err)
			}
			if err := e.writeLogin(l); err != nil {
				return err
			}
			p, _ := e.loginPath()
			role := "system administrator"
			if !me.SystemAdmin {
				role = "tenant administrator of " + strings.Join(me.Tenants, ", ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s %q (%s); login stored in %s\n", l.Server, me.Type, me.ID, role, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "base URL of the server's admin domain (default $SESAME_SERVER)")
	cmd.Flags().StringVar(&clientID, "client-id", "", "client id of an admin application")
	cmd.Flags().BoolVar(&secretStdin, "client-secret-stdin", false, "read the client secret from the first line of standard input")
	return cmd
}

func (e Env) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the stored login",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := e.loginPath()
			if err != nil {
				return err
			}
			if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(cmd.OutOrStdout(), "not logged in")
				return nil
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "login removed (%s)\n", p)
			return nil
		},
	}
}

// firstLine reads the first line of r, without its line ending.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
