package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sesame-idp/sesame/internal/mfa"
	"github.com/sesame-idp/sesame/internal/server/servertest"
)

// BenchmarkMFACode is POST /api/v2/sdk/login/state/mfa with a right TOTP
// code on a "required" tenant: the challenge's attempt count, the
// enrolment read, the secret's decryption, three HMAC-SHA1, the
// conditional update of the last step, the state token's removal, and the
// new session with its id_token (RS256). The password step before it (an
// argon2id login, see BenchmarkLogin) is not timed; the clock moves one
// TOTP step per iteration so that every code is new.
func BenchmarkMFACode(b *testing.B) {
	for _, backend := range servertest.Backends() {
		b.Run(backend, func(b *testing.B) {
			e := servertest.New(b, backend, mfaPolicy(map[string]string{"acme": "required"}))
			h := e.Server.Handler()
			login := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/sdk/login", servertest.SDKHeaders("acme-portal"),
				`{"user_name":"alice","password":"`+servertest.Password+`"}`)
			step := newBenchReq(http.MethodPost, servertest.EIAMHost, "/api/v2/sdk/login/state/mfa", servertest.SDKHeaders("acme-portal"), "")
			code := func(state string, key []byte) []byte {
				body, _ := json.Marshal(map[string]string{"state_token": state, "code": mfa.Code(key, mfa.Step(e.Clock.Now()))})
				return body
			}
			// Enrol alice.
			var first struct {
				StateToken string `json:"state_token"`
				Enrollment struct {
					Secret string `json:"secret"`
				} `json:"mfa_enrollment"`
			}
			if err := json.Unmarshal(login.serve(b, h).Body.Bytes(), &first); err != nil {
				b.Fatal(err)
			}
			key, err := mfa.DecodeSecret(first.Enrollment.Secret)
			if err != nil {
				b.Fatal(err)
			}
			step.setBody(code(first.StateToken, key))
			step.serve(b, h)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e.Clock.Advance(mfa.Period)
				state := benchField(b, login.serve(b, h).Body.Bytes(), "state_token")
				step.setBody(code(state, key))
				b.StartTimer()
				if got := benchField(b, step.serve(b, h).Body.Bytes(), "status"); got != "SUCCESS" {
					b.Fatalf("status %s", got)
				}
			}
		})
	}
}
