package oauth2

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes of RFC 6749 §5.2 and RFC 6750 §3.1.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrInvalidGrant         = "invalid_grant"
	ErrUnauthorizedClient   = "unauthorized_client"
	ErrUnsupportedGrantType = "unsupported_grant_type"
	ErrInvalidScope         = "invalid_scope"
	ErrInvalidToken         = "invalid_token"
	ErrServerError          = "server_error"
	ErrTemporarilyUnavail   = "temporarily_unavailable"
)

// Error is an OAuth protocol error as a value: grant and endpoint code
// returns it, WriteError writes it.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status; 0 means 400, or 401 for invalid_client.
	Status int
	// Cause is an internal error for the logs; never sent.
	Cause error
}

func (e *Error) Error() string {
	s := "oauth2: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// NewError returns an Error with a code and a description.
func NewError(code, description string) *Error {
	return &Error{Code: code, Description: description}
}

// InvalidAccess is the tenant API's answer to a missing, invalid or expired
// bearer token: vendor-compatible 400, not RFC 6750's 401 (contract §3.1).
func InvalidAccess() *Error {
	return &Error{Code: ErrInvalidToken, Description: "Invalid access", Status: http.StatusBadRequest}
}

// Busy is a 503 telling the client to retry, for storage outages.
func Busy(cause error) *Error {
	return &Error{Code: ErrTemporarilyUnavail, Description: "System busy, please try again later", Status: http.StatusServiceUnavailable, Cause: cause}
}

func (e *Error) status() int {
	switch {
	case e.Status != 0:
		return e.Status
	case e.Code == ErrInvalidClient:
		// RFC 6749 §5.2: invalid_client may be 401, and must be when the
		// client tried HTTP authentication; Sesame always answers 401.
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

type errorBody struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteError writes e as RFC 6749 §5.2 JSON. It is the only writer of
// this format.
func WriteError(w http.ResponseWriter, e *Error) {
	status := e.status()
	switch {
	case e.Code == ErrInvalidToken || e.Code == "insufficient_scope":
		// RFC 6750 §3: bearer-token errors name the Bearer scheme (also on
		// the vendor's 400 answer, where clients may look for it).
		w.Header().Set("WWW-Authenticate", `Bearer realm="sesame", error="`+e.Code+`"`)
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="sesame", error="`+e.Code+`"`)
	}
	WriteJSON(w, status, errorBody{Code: e.Code, Description: e.Description})
}

// WriteJSON writes v with the headers every token-bearing response needs:
// RFC 6749 §5.1 requires Cache-Control: no-store and Pragma: no-cache.
// The answer carries its Content-Length, so that flushing it hands the
// complete answer to the connection (without it, a flushed answer is
// chunked and ends only when the handler returns; the token endpoint
// flushes before confirming a rotated refresh token).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	body, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(status)
		return
	}
	body = append(body, '\n') // as json.Encoder ends its output
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
