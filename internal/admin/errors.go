package admin

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Error codes of the admin API.
const (
	CodeInvalidRequest  = "invalid_request"        // 400: a field or parameter is wrong (Field names it)
	CodeUnauthorized    = "unauthorized"           // 401: no token, or an invalid, expired or revoked one
	CodeForbidden       = "forbidden"              // 403: the principal may not do this
	CodeNotFound        = "not_found"              // 404
	CodeConflict        = "conflict"               // 409: taken name, last administrator, built-in object
	CodeTooLarge        = "payload_too_large"      // 413
	CodeUnsupportedType = "unsupported_media_type" // 415
	CodeMethod          = "method_not_allowed"     // 405
	CodeUnavailable     = "unavailable"            // 503: storage or a dependency failed; retry
)

// Error is an admin API error as a value; writeError writes it.
type Error struct {
	Status  int
	Code    string
	Field   string // the request member at fault, if one is
	Message string
	// Cause is logged, never sent.
	Cause error
}

func (e *Error) Error() string {
	s := "admin: " + e.Code
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	s += ": " + e.Message
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// invalid is a 400 naming field.
func invalid(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: field, Message: message}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found"}
}

func forbidden(message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: message}
}

func conflict(field, message string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: field, Message: message}
}

// unavailable wraps a storage or dependency failure.
func unavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "The service is temporarily unavailable, please retry", Cause: cause}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// writeError writes e. It is the only writer of the admin error format.
func writeError(w http.ResponseWriter, e *Error) {
	switch e.Status {
	case http.StatusUnauthorized:
		// RFC 6750 §3: name the scheme; error="invalid_token" only when
		// a token was presented (§3.1), which the caller says by Field.
		v := `Bearer realm="sesame-admin"`
		if e.Field == "authorization" {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, errorBody{Error: errorDetail{Code: e.Code, Field: e.Field, Message: e.Message}})
}

// writeJSON writes v. Answers can carry secrets shown once (client
// secrets, generated passwords), so none may be cached (RFC 9111 §5.2.2.5).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// maxBodyBytes bounds a request body; the largest real one (an
// application with many redirect URIs) is a few kilobytes.
const maxBodyBytes = 64 << 10

// decode reads a JSON object body into dst, strictly: the media type must
// be JSON, unknown members are refused (a misspelt setting must not be
// silently ignored), and so is anything after the object. An empty body
// is allowed when optional.
func decode(r *http.Request, dst any, optional bool) *Error {
	body := http.MaxBytesReader(nil, r.Body, maxBodyBytes)
	raw, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "The request body exceeds " + strconv.Itoa(maxBodyBytes) + " bytes"}
	}
	if err != nil {
		return invalid("", "The request body could not be read")
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		if optional {
			return nil
		}
		return invalid("", "A JSON object body is required")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedType, Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return invalid("", "The body must hold exactly one JSON object")
	}
	return nil
}

// decodeError names the member a JSON decoding error is about.
func decodeError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return invalid("", "The body must be a JSON object")
		}
		return invalid(field, "Wrong type: "+typeErr.Value+" where "+jsonKind(typeErr.Type.Kind().String())+" is expected")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "The body is not valid JSON")
	}
	// encoding/json reports an unknown member as `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if f, err := strconv.Unquote(name); err == nil {
			return invalid(f, "Unknown field")
		}
	}
	return invalid("", "The body is not a valid request")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint32", "uint64", "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return goKind
}
