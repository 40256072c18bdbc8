package sdkapi

import (
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// Size limits of SDK inputs. They are far above real values and far below
// what could hurt: a request over a limit gets "format is incorrect".
const (
	maxClientID    = 128
	maxFingerprint = 256
	maxOSVersion   = 128
	maxAgent       = 1024
	maxIP          = 64
	maxToken       = 512
	maxUserName    = 256
	maxPassword    = 1024
	// MaxBodyBytes bounds every SDK request body.
	MaxBodyBytes = 16 << 10
)

// Common holds the headers every SDK request carries (contract §2).
type Common struct {
	ClientID string
	Device   store.Device
}

// ParseCommon validates the common SDK headers. Missing X-client-id is
// reported before incomplete device information, as the vendor's example
// does ("Parameter X-client-id cannot be empty").
func ParseCommon(h http.Header) (Common, *sdkerror.Error) {
	var c Common
	var err *sdkerror.Error
	if c.ClientID, err = header(h, "X-client-id", maxClientID, true); err != nil {
		return c, err
	}
	fields := []struct {
		name string
		max  int
		dst  *string
	}{
		{"X-device-fingerprint", maxFingerprint, &c.Device.Fingerprint},
		{"X-operating-sys-version", maxOSVersion, &c.Device.OSVersion},
		{"X-agent", maxAgent, &c.Device.Agent},
	}
	for _, f := range fields {
		v, err := header(h, f.name, f.max, false)
		if err != nil {
			return c, err
		}
		if v == "" {
			return c, sdkerror.New(sdkerror.DeviceIncomplete)
		}
		if f.name == "X-device-fingerprint" && v == session.BrowserFingerprint {
			// Reserved for hosted-login sessions (see BrowserSession).
			return c, sdkerror.New(sdkerror.ParamMalformed, f.name)
		}
		*f.dst = v
	}
	ip, err := header(h, "X-device-ip", maxIP, false)
	if err != nil {
		return c, err
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return c, sdkerror.New(sdkerror.ParamMalformed, "X-device-ip")
	}
	c.Device.IP = ip
	return c, nil
}

// header returns a trimmed header value, checking its size and that it is
// printable text. A header sent several times with different values is
// malformed: it is unclear which one the client meant.
func header(h http.Header, name string, limit int, required bool) (string, *sdkerror.Error) {
	vals := h.Values(name)
	v := ""
	for i, raw := range vals {
		raw = strings.TrimSpace(raw)
		if i > 0 && raw != v {
			return "", sdkerror.New(sdkerror.ParamMalformed, name)
		}
		v = raw
	}
	if v == "" {
		if required {
			return "", sdkerror.New(sdkerror.ParamMissing, name)
		}
		return "", nil
	}
	if len(v) > limit || !printable(v) {
		return "", sdkerror.New(sdkerror.ParamMalformed, name)
	}
	return v, nil
}

// printable reports whether s is valid UTF-8 without control characters
// (C0, DEL and C1: unicode.IsControl), so that what is stored, logged or
// compared is plain text.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// SessionToken reads the session token from X-session-token (EIAM) or
// session-token (CIAM); both names work on every tenant, and both present
// with different values is a parameter error (contract §2.2). missingName
// is the name the error for a missing token uses: the tenant's dialect's.
func SessionToken(h http.Header, missingName string) (string, *sdkerror.Error) {
	x, err := header(h, "X-session-token", maxToken, false)
	if err != nil {
		return "", err
	}
	plain, err := header(h, "session-token", maxToken, false)
	if err != nil {
		return "", err
	}
	switch {
	case x != "" && plain != "" && x != plain:
		return "", sdkerror.New(sdkerror.ParamMalformed, "session-token")
	case x != "":
		return x, nil
	case plain != "":
		return plain, nil
	}
	return "", sdkerror.New(sdkerror.ParamMissing, missingName)
}

// Field describes one string field of a JSON body.
type Field struct {
	Name     string
	Max      int
	Required bool
	Dst      *string
	// Password fields may hold control characters (they are only hashed,
	// never stored or shown), but not NUL, which no client means.
	Password bool
}

// DecodeBody reads a JSON object body into string fields. It checks the
// content type, the size, the JSON syntax, each field's type and size, and
// that required fields are present and not empty.
func DecodeBody(r *http.Request, fields ...Field) *sdkerror.Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return sdkerror.New(sdkerror.ParamMalformed, "Content-Type")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(body) > MaxBodyBytes {
		return sdkerror.New(sdkerror.ParamMalformed, "body")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return sdkerror.New(sdkerror.ParamMalformed, "body")
	}
	for _, f := range fields {
		v, ok := raw[f.Name]
		if !ok || string(v) == "null" {
			if f.Required {
				return sdkerror.New(sdkerror.ParamMissing, f.Name)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			// A number, object or array where a string belongs.
			return sdkerror.New(sdkerror.ParamMalformed, f.Name)
		}
		if f.Required && strings.TrimSpace(s) == "" {
			return sdkerror.New(sdkerror.ParamMissing, f.Name)
		}
		if len(s) > f.Max || !utf8.ValidString(s) ||
			(f.Password && strings.ContainsRune(s, 0)) || (!f.Password && !printable(s)) {
			return sdkerror.New(sdkerror.ParamMalformed, f.Name)
		}
		*f.Dst = s
	}
	return nil
}
