// Package sdkapi owns the HTTP surface of the SDK API, /api/v2/sdk/...
// (contract §2): parsing and validating its headers and bodies, picking the
// tenant's error dialect and language, calling the session Service, and
// writing its responses. Errors are written only through sdkerror.Write.
package sdkapi
