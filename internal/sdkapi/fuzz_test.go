package sdkapi

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/sdkerror"
)

// The fuzz targets of this file run on every `go test` with their seeds
// (f.Add and testdata/fuzz/<Name>/) and, in CI, for a bounded time:
//
//	go test -run='^$' -fuzz='^FuzzParseCommon$' -fuzztime=20s ./internal/sdkapi/
//
// A fuzzed header value is split at "\n" into the values of a repeated
// header (no single HTTP header value can hold a newline), so repeated
// headers are fuzzed too; an empty string means the header is absent.

// fuzzEchoMin is the length from which a fuzzed input found in an error
// message counts as echoed: shorter strings turn up in messages by chance.
const fuzzEchoMin = 8

// fuzzParamNames are the only arguments an error of this package may carry:
// names of parameters, never values the client sent (contract §6).
var fuzzParamNames = map[string]bool{
	"X-client-id": true, "X-device-fingerprint": true, "X-operating-sys-version": true,
	"X-agent": true, "X-device-ip": true, "X-session-token": true, "session-token": true,
	"Content-Type": true, "body": true,
	// Body fields of the handlers (fuzzFieldSets).
	"user_name": true, "password": true, "state_token": true, "new_password": true,
	"session_token": true, "operating_sys_version": true, "device_ip": true,
	"device_fingerprint": true, "agent": true,
}

// fuzzCatalogue holds every message the catalogue can render with a
// parameter name of this package, so that an input that is part of a fixed
// text ("cannot be empty") is not mistaken for an echo.
var fuzzCatalogue = func() []string {
	var out []string
	names := []string{""}
	for n := range fuzzParamNames {
		names = append(names, n)
	}
	for k := sdkerror.ParamMissing; k <= sdkerror.SystemBusy; k++ {
		for _, n := range names {
			for _, ed := range []string{"eiam", "ciam"} {
				for _, zh := range []bool{false, true} {
					_, _, msg := sdkerror.New(k, n, n).Render(ed, zh)
					out = append(out, msg)
				}
			}
		}
	}
	return out
}()

func fuzzInCatalogue(s string) bool {
	for _, m := range fuzzCatalogue {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// fuzzHeader builds a header from name/value pairs; see the file comment.
func fuzzHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		for _, v := range strings.Split(kv[i+1], "\n") {
			h.Add(kv[i], v)
		}
	}
	return h
}

// fuzzInputs returns the strings the client sent that an error must not
// echo: every whole value and every single value of a repeated header,
// trimmed or not.
func fuzzInputs(raw ...string) []string {
	var out []string
	for _, r := range raw {
		out = append(out, r)
		for _, v := range strings.Split(r, "\n") {
			out = append(out, v, strings.TrimSpace(v))
		}
	}
	return out
}

// fuzzCheckError checks an error of this package: a known kind, parameter
// names as its only arguments, a 4xx in both dialects and languages, no
// placeholder left, and none of the inputs in its message.
func fuzzCheckError(t *testing.T, err *sdkerror.Error, kinds []sdkerror.Kind, inputs []string) {
	t.Helper()
	known := false
	for _, k := range kinds {
		known = known || err.Kind == k
	}
	if !known {
		t.Fatalf("unexpected error kind %d (%v)", err.Kind, err)
	}
	if err.Cause != nil {
		t.Fatalf("parameter error with an internal cause: %v", err)
	}
	for _, a := range err.Args {
		if !fuzzParamNames[a] {
			t.Fatalf("error argument %q is not a parameter name (%v)", a, err)
		}
	}
	for _, ed := range []string{"eiam", "ciam"} {
		for _, zh := range []bool{false, true} {
			status, code, msg := err.Render(ed, zh)
			if status != http.StatusBadRequest || code == "" || msg == "" {
				t.Fatalf("Render(%s, zh=%v) = %d %q %q", ed, zh, status, code, msg)
			}
			if strings.Contains(msg, "{0}") || strings.Contains(msg, "{1}") {
				t.Fatalf("Render(%s, zh=%v): placeholder left in %q", ed, zh, msg)
			}
			for _, in := range inputs {
				if len(in) > fuzzEchoMin && strings.Contains(msg, in) && !fuzzInCatalogue(in) {
					t.Fatalf("Render(%s, zh=%v) = %q echoes the input %q", ed, zh, msg, in)
				}
			}
		}
	}
}

// fuzzCheckText checks a value a parser accepted: within limit, valid
// UTF-8, no control character (C0, DEL or C1), and trimmed unless raw.
func fuzzCheckText(t *testing.T, name, v string, limit int, trimmed bool) {
	t.Helper()
	if len(v) > limit {
		t.Fatalf("%s: accepted %d bytes, limit %d", name, len(v), limit)
	}
	if !utf8.ValidString(v) {
		t.Fatalf("%s: accepted invalid UTF-8 %q", name, v)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		t.Fatalf("%s: accepted control character %U in %q", name, r, v)
	}
	if trimmed && strings.TrimSpace(v) != v {
		t.Fatalf("%s: accepted untrimmed %q", name, v)
	}
}

// fuzzFirst returns the value a parser should have read from a fuzzed
// header: the first of its values, trimmed.
func fuzzFirst(raw string) string {
	first, _, _ := strings.Cut(raw, "\n")
	return strings.TrimSpace(first)
}

func FuzzParseCommon(f *testing.F) {
	ok := []string{"acme-portal", "device-fingerprint-1", "windows10.1.1", "Mozilla/5.0 (test)", "192.168.1.2"}
	f.Add(ok[0], ok[1], ok[2], ok[3], ok[4])
	f.Add(ok[0], ok[1], ok[2], ok[3], "")
	f.Add(ok[0], ok[1], ok[2], ok[3], "2001:db8::1")
	f.Add("", ok[1], ok[2], ok[3], ok[4])
	f.Add(ok[0], "", ok[2], ok[3], ok[4])
	f.Add(ok[0], ok[1], "", ok[3], ok[4])
	f.Add(ok[0], ok[1], ok[2], "", ok[4])
	f.Add(ok[0], ok[1], ok[2], ok[3], "not-an-ip")
	f.Add(ok[0], ok[1], ok[2], strings.Repeat("a", 1025), ok[4])
	f.Add(strings.Repeat("c", 129), ok[1], ok[2], ok[3], ok[4])
	f.Add(ok[0]+"\n"+ok[0], ok[1], ok[2], ok[3], ok[4])               // repeated, same value
	f.Add(ok[0]+"\nshop-portal", ok[1], ok[2], ok[3], ok[4])          // repeated, different values
	f.Add(" acme-portal \n\tacme-portal", ok[1], ok[2], ok[3], ok[4]) // same once trimmed
	f.Add(ok[0], "dev\x00ice", ok[2], ok[3], ok[4])
	f.Add(ok[0], ok[1], ok[2], "agent\x7f", ok[4])
	f.Add(ok[0], ok[1], "\xff\xfe", ok[3], ok[4])
	f.Add("   ", ok[1], ok[2], ok[3], ok[4])
	f.Add(ok[0], "  \n  ", ok[2], ok[3], ok[4])
	f.Add(ok[0], ok[1], ok[2], ok[3], "::ffff:10.0.0.1%eth0")
	f.Fuzz(func(t *testing.T, clientID, fingerprint, osVersion, agent, ip string) {
		h := fuzzHeader("X-client-id", clientID, "X-device-fingerprint", fingerprint,
			"X-operating-sys-version", osVersion, "X-agent", agent, "X-device-ip", ip)
		c, err := ParseCommon(h)
		if err != nil {
			fuzzCheckError(t, err, []sdkerror.Kind{sdkerror.ParamMissing, sdkerror.ParamMalformed, sdkerror.DeviceIncomplete},
				fuzzInputs(clientID, fingerprint, osVersion, agent, ip))
			return
		}
		for _, f := range []struct {
			name, got, raw string
			limit          int
		}{
			{"X-client-id", c.ClientID, clientID, maxClientID},
			{"X-device-fingerprint", c.Device.Fingerprint, fingerprint, maxFingerprint},
			{"X-operating-sys-version", c.Device.OSVersion, osVersion, maxOSVersion},
			{"X-agent", c.Device.Agent, agent, maxAgent},
			{"X-device-ip", c.Device.IP, ip, maxIP},
		} {
			if f.got == "" && f.name != "X-device-ip" {
				t.Fatalf("%s: accepted empty", f.name)
			}
			fuzzCheckText(t, f.name, f.got, f.limit, true)
			if f.got != fuzzFirst(f.raw) {
				t.Fatalf("%s: got %q from %q", f.name, f.got, f.raw)
			}
			// A repeated header is accepted only when all its values agree.
			if f.raw != "" {
				for _, v := range strings.Split(f.raw, "\n") {
					if strings.TrimSpace(v) != f.got {
						t.Fatalf("%s: accepted %q although the header also had %q", f.name, f.got, v)
					}
				}
			}
		}
		if c.Device.IP != "" && net.ParseIP(c.Device.IP) == nil {
			t.Fatalf("accepted device IP %q", c.Device.IP)
		}
	})
}

func FuzzSessionToken(f *testing.F) {
	tok := "Nw3rTsl1bzmyCNd7tYp3lQ4f5qzLhOeY3mXrnI2qBq0"
	f.Add(tok, "", false)
	f.Add("", tok, true)
	f.Add(tok, tok, false)
	f.Add(tok, tok+"x", true)
	f.Add("", "", false)
	f.Add("", "", true)
	f.Add(strings.Repeat("t", 513), "", false)
	f.Add(tok+"\n"+tok, "", false)
	f.Add(tok+"\nother", "", true)
	f.Add(" "+tok+"\t", tok, false)
	f.Add("tok\x00en-with-nul", "", false)
	f.Add("", "\xc3\x28invalid-utf8", true)
	f.Add("  ", "\n", false)
	f.Fuzz(func(t *testing.T, xToken, plainToken string, ciam bool) {
		missing := "X-session-token"
		if ciam {
			missing = "session-token"
		}
		h := fuzzHeader("X-session-token", xToken, "session-token", plainToken)
		got, err := SessionToken(h, missing)
		if err != nil {
			fuzzCheckError(t, err, []sdkerror.Kind{sdkerror.ParamMissing, sdkerror.ParamMalformed}, fuzzInputs(xToken, plainToken))
			if err.Kind == sdkerror.ParamMissing && (len(err.Args) != 1 || err.Args[0] != missing) {
				t.Fatalf("missing token reported as %v, want the name %s", err.Args, missing)
			}
			return
		}
		if got == "" {
			t.Fatal("accepted an empty token")
		}
		fuzzCheckText(t, "session token", got, maxToken, true)
		x, p := fuzzFirst(xToken), fuzzFirst(plainToken)
		if got != x && got != p {
			t.Fatalf("got %q from X-session-token %q and session-token %q", got, xToken, plainToken)
		}
		if x != "" && p != "" && x != p {
			t.Fatalf("accepted %q although the two headers differ (%q, %q)", got, xToken, plainToken)
		}
	})
}

// fuzzFieldSets are the bodies the handlers decode: login, change-password
// and the tenant API's session requests.
var fuzzFieldSets = [][]struct {
	name     string
	max      int
	required bool
}{
	{{"user_name", maxUserName, true}, {"password", maxPassword, true}},
	{{"state_token", maxToken, true}, {"new_password", maxPassword, true}},
	{{"session_token", 512, true}, {"operating_sys_version", 128, true}, {"device_ip", 64, true}, {"device_fingerprint", 256, true}, {"agent", 1024, false}},
}

func FuzzDecodeBody(f *testing.F) {
	const js = "application/json"
	f.Add(uint8(0), js, []byte(`{"user_name":"alice","password":"Correct-Horse-9"}`))
	f.Add(uint8(0), "application/json; charset=utf-8", []byte(`{"user_name":"alice","password":"Correct-Horse-9"}`))
	f.Add(uint8(0), "Application/JSON", []byte(`{"user_name":"alice","password":"x","extra":[1,{"a":null}]}`))
	f.Add(uint8(0), "text/plain", []byte(`{"user_name":"alice","password":"x"}`))
	f.Add(uint8(0), "", []byte(`{"user_name":"alice","password":"x"}`))
	f.Add(uint8(0), "application/json; charset", []byte(`{}`))
	f.Add(uint8(0), js, []byte(`{nope`))
	f.Add(uint8(0), js, []byte(`[1]`))
	f.Add(uint8(0), js, []byte(`null`))
	f.Add(uint8(0), js, []byte(``))
	f.Add(uint8(0), js, []byte(`{"user_name":5,"password":"x"}`))
	f.Add(uint8(0), js, []byte(`{"user_name":"alice"}`))
	f.Add(uint8(0), js, []byte(`{"user_name":"  ","password":"x"}`))
	f.Add(uint8(0), js, []byte(`{"user_name":null,"password":"x"}`))
	f.Add(uint8(0), js, []byte(`{"user_name":"alice","password":"x","password":"y"}`))
	f.Add(uint8(0), js, []byte(`{"user_name":"\ud800","password":"x"}`))
	f.Add(uint8(0), js, []byte("{\"user_name\":\"al\xffice\",\"password\":\"x\"}"))
	f.Add(uint8(0), js, []byte(`{"user_name":"`+strings.Repeat("a", 257)+`","password":"x"}`))
	f.Add(uint8(1), js, []byte(`{"state_token":"Nw3rTsl1bzmyCNd7tYp3lQ4f5qzLhOeY3mXrnI2qBq0","new_password":"Brand-New-Secret-1"}`))
	f.Add(uint8(2), js, []byte(`{"session_token":"Nw3rTsl1bzmyCNd7tYp3lQ4f5qzLhOeY3mXrnI2qBq0","operating_sys_version":"linux","device_ip":"10.0.0.1","device_fingerprint":"device-fingerprint-1"}`))
	f.Add(uint8(2), js, []byte(`{"session_token":"t","operating_sys_version":"linux","device_ip":"10.0.0.1","device_fingerprint":"d","agent":{"x":1}}`))
	f.Fuzz(func(t *testing.T, sel uint8, contentType string, body []byte) {
		set := fuzzFieldSets[int(sel)%len(fuzzFieldSets)]
		r := httptest.NewRequest(http.MethodPost, "/api/v2/sdk/login", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		got := make([]string, len(set))
		fields := make([]Field, len(set))
		for i, fs := range set {
			fields[i] = Field{Name: fs.name, Max: fs.max, Required: fs.required, Dst: &got[i]}
		}
		err := DecodeBody(r, fields...)
		if err != nil {
			inputs := []string{contentType, string(body)}
			// The field values as the server read them, when the body is JSON.
			var raw map[string]json.RawMessage
			if json.Unmarshal(body, &raw) == nil {
				for _, v := range raw {
					var s string
					if json.Unmarshal(v, &s) == nil {
						inputs = append(inputs, s)
					}
					inputs = append(inputs, string(v))
				}
			}
			fuzzCheckError(t, err, []sdkerror.Kind{sdkerror.ParamMissing, sdkerror.ParamMalformed}, inputs)
			if n := err.Args; len(n) == 1 && n[0] != "Content-Type" && n[0] != "body" {
				known := false
				for _, fs := range set {
					known = known || fs.name == n[0]
				}
				if !known {
					t.Fatalf("error names %q, which is not a field", n[0])
				}
			}
			return
		}
		if len(body) > MaxBodyBytes {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		for i, fs := range set {
			if fs.required && strings.TrimSpace(got[i]) == "" {
				t.Fatalf("%s: required but accepted %q", fs.name, got[i])
			}
			fuzzCheckText(t, fs.name, got[i], fs.max, false)
		}
	})
}
