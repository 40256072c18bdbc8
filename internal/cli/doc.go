// Package cli owns Sesame's management command line: a typed client of
// the admin API (/admin/api/v1, package admin) and the commands built on
// it — `sesame login|logout`, `sesame tenant|app|user|session|audit ...`
// and the remote forms of `sesame keys list|rotate`. cmd/sesame only
// wires them in.
//
// # Server and credentials
//
// A command talks to the server given by --server, else $SESAME_SERVER,
// else the stored login; it authenticates with --token, else
// $SESAME_TOKEN, else the stored login. `sesame login` runs the
// client_credentials grant (RFC 6749 §4.4) of an admin application
// against the system tenant's token endpoint ({server}/api/v1/oauth2/token)
// and stores the server, the client credentials and the access token in
// $XDG_CONFIG_HOME/sesame/cli.json (~/.config/sesame/cli.json), a file of
// mode 0600 in a directory of mode 0700: the client secret is kept so that
// an expired token (or one the server refuses with 401) is replaced
// without asking again, as the admin API has no refresh tokens for
// client_credentials (RFC 6749 §4.4.3). `sesame logout` deletes the file.
//
// # Output
//
// -o table (the default) prints aligned columns (text/tabwriter): one row
// per object for lists, one "FIELD VALUE" row per member for a single
// object. -o json prints the API's objects, indented; a list is the API's
// page ({"items":[…],"next_cursor":"…"}). A client secret or generated
// password is printed once, as the API returns it once.
//
// # Errors
//
// An API error ({"error":{"code","field","message"}}) is shown with its
// code, HTTP status, the field it names and the server's message; every
// failure makes the command exit non-zero.
package cli
