// Command deviceapp is an example "device app" built on the Sesame Go SDK
// (package sdk): it logs a user in with a password, keeps the session in a
// file across restarts, and prints a fresh id_token whenever asked,
// following the session-token rotation of applications that have
// session auto-refresh on.
//
// Usage:
//
//	deviceapp login  -url https://acme.example.com -client-id my-app -user alice < password.txt
//	deviceapp token  -url https://acme.example.com -client-id my-app [-claims]
//	deviceapp logout -url https://acme.example.com -client-id my-app
//
// -url and -client-id default to $SESAME_URL and $SESAME_CLIENT_ID. The
// session token and a generated device id live in -dir (default: the
// user's configuration directory, sesame-deviceapp/), readable by the
// user only.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// Env is what the program talks to; tests substitute every part.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// HTTPClient talks to Sesame (nil: the SDK's default).
	HTTPClient *http.Client
}

const usage = `usage: deviceapp login|token|logout [flags]

  login   log in (-user NAME; the password from -password or the first line of stdin)
  token   print a fresh id_token (-claims also verifies it and shows the user)
  logout  end the session

Run "deviceapp COMMAND -h" for the flags.
`

// run executes one command and returns the exit status.
func run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("deviceapp "+cmd, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o options
	fs.StringVar(&o.url, "url", os.Getenv("SESAME_URL"), "Sesame tenant URL, https://{tenant domain} (default $SESAME_URL)")
	fs.StringVar(&o.clientID, "client-id", os.Getenv("SESAME_CLIENT_ID"), "the app's client_id (default $SESAME_CLIENT_ID)")
	fs.StringVar(&o.tenantID, "tenant-id", "", "tenant id, when -url is a shared common domain")
	fs.StringVar(&o.host, "host", "", "Host header to send, when -url is not the tenant's domain")
	fs.StringVar(&o.dir, "dir", "", "directory of the session and device id (default: user config dir/sesame-deviceapp)")
	var user, password, newPassword string
	var claims bool
	switch cmd {
	case "login":
		fs.StringVar(&user, "user", "", "user name (required)")
		fs.StringVar(&password, "password", "", "password (default: the first line of stdin)")
		fs.StringVar(&newPassword, "new-password", "", "new password, when the current one has expired or expires soon")
	case "token":
		fs.BoolVar(&claims, "claims", false, "verify the id_token and print its user on stderr")
	case "logout":
	default:
		fmt.Fprintf(env.Stderr, "deviceapp: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.url == "" || o.clientID == "" || (cmd == "login" && user == "") {
		fmt.Fprintln(env.Stderr, "deviceapp: -url, -client-id (and for login -user) are required")
		fs.Usage()
		return 2
	}
	client, err := o.client(env)
	if err != nil {
		fmt.Fprintln(env.Stderr, "deviceapp:", err)
		return 1
	}
	switch cmd {
	case "login":
		err = login(ctx, client, env, user, password, newPassword)
	case "token":
		err = token(ctx, client, env, o, claims)
	case "logout":
		if err = client.Logout(ctx); err == nil {
			fmt.Fprintln(env.Stdout, "Logged out.")
		}
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "deviceapp:", explain(err))
		return 1
	}
	return 0
}

type options struct {
	url, clientID, tenantID, host, dir string
}

func (o options) sdkOptions(env Env) []sdk.Option {
	var opts []sdk.Option
	if env.HTTPClient != nil {
		opts = append(opts, sdk.WithHTTPClient(env.HTTPClient))
	}
	if o.tenantID != "" {
		opts = append(opts, sdk.WithTenantID(o.tenantID))
	}
	if o.host != "" {
		opts = append(opts, sdk.WithHost(o.host))
	}
	return opts
}

// client builds the SDK client: session in a file, device id stable.
func (o options) client(env Env) (*sdk.Client, error) {
	dir := o.dir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(base, "sesame-deviceapp")
	}
	fingerprint, err := deviceID(filepath.Join(dir, "device-id"))
	if err != nil {
		return nil, err
	}
	hostname, _ := os.Hostname()
	opts := append(o.sdkOptions(env),
		sdk.WithDevice(sdk.Device{Fingerprint: fingerprint, OSVersion: runtime.GOOS + "/" + runtime.GOARCH, Agent: "deviceapp/1.0 (" + hostname + ")"}),
		sdk.WithTokenStore(sdk.FileTokenStore(filepath.Join(dir, "session"))),
	)
	return sdk.New(o.url, o.clientID, opts...)
}

// deviceID returns this installation's device fingerprint, made on first
// use. Sesame binds sessions to it, so it must not change between runs.
func deviceID(path string) (string, error) {
	store := sdk.FileTokenStore(path) // an atomic 0600 file is just right
	ctx := context.Background()
	id, err := store.Load(ctx)
	if err != nil || id != "" {
		return id, err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id = hex.EncodeToString(b)
	return id, store.Save(ctx, id)
}

func login(ctx context.Context, c *sdk.Client, env Env, user, password, newPassword string) error {
	if password == "" {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("no password: give -password or a line on stdin")
		}
	}
	res, err := c.Login(ctx, user, password)
	if err != nil {
		return err
	}
	switch res.Status {
	case sdk.LoginPasswordWarn, sdk.LoginPasswordExpired:
		if newPassword != "" {
			res, err = c.ChangePassword(ctx, res.StateToken, newPassword)
		} else if res.Status == sdk.LoginPasswordWarn {
			if p, perr := res.PasswordPolicy(); perr == nil && !p.Expires.IsZero() {
				fmt.Fprintf(env.Stderr, "Your password expires on %s; change it with -new-password.\n", p.Expires.Format(time.DateOnly))
			}
			res, err = c.SkipPasswordChange(ctx, res.StateToken)
		} else {
			return errors.New("your password has expired: log in again with -new-password")
		}
		if err != nil {
			return err
		}
	case sdk.LoginSuccess:
	default:
		return fmt.Errorf("this app cannot complete a %s login", res.Status)
	}
	fmt.Fprintf(env.Stdout, "Logged in as %s; the session lasts %s.\n", user, time.Duration(res.Expire)*time.Second)
	return nil
}

func token(ctx context.Context, c *sdk.Client, env Env, o options, showClaims bool) error {
	res, err := c.ExchangeSessionToken(ctx)
	if err != nil {
		return err
	}
	if showClaims {
		v, err := sdk.NewVerifier(strings.TrimRight(o.url, "/")+"/api/v1/oauth2", o.clientID, o.sdkOptions(env)...)
		if err != nil {
			return err
		}
		cl, err := v.Verify(ctx, res.IDToken)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "user %s (%s), id %s, token valid until %s\n", cl.UserName, cl.Name, cl.Subject, cl.Expiry.Format(time.RFC3339))
	}
	if res.Rotated {
		fmt.Fprintln(env.Stderr, "(the session token was rotated and saved)")
	}
	fmt.Fprintln(env.Stdout, res.IDToken)
	return nil
}

// explain turns the SDK's errors into advice.
func explain(err error) string {
	switch {
	case errors.Is(err, sdk.ErrNotLoggedIn):
		return "not logged in: run deviceapp login"
	case errors.Is(err, sdk.ErrSessionInvalid):
		return "the session has ended (" + err.Error() + "): run deviceapp login"
	case errors.Is(err, sdk.ErrBadCredentials):
		return "invalid user name or password"
	case errors.Is(err, sdk.ErrSystemBusy):
		return "the server is busy, try again later"
	}
	return err.Error()
}
