package sdkerror

import "testing"

// TestTooManyRequests: the rate-limit refusal in both dialects and
// languages, HTTP 429.
func TestTooManyRequests(t *testing.T) {
	for _, c := range []struct {
		edition   string
		zh        bool
		code, msg string
	}{
		{"eiam", false, "SDK.COMMON.1015", "Too many requests, please try again later"},
		{"eiam", true, "SDK.COMMON.1015", "请求过于频繁,请稍后再试"},
		{"ciam", false, "IDAAS.SDK.COM.0003", "Too many requests, please try again later"},
		{"ciam", true, "IDAAS.SDK.COM.0003", "请求过于频繁,请稍后再试"},
	} {
		status, code, msg := New(TooManyRequests).Render(c.edition, c.zh)
		if status != 429 || code != c.code || msg != c.msg {
			t.Errorf("%s zh=%v: got %d %s %q, want 429 %s %q", c.edition, c.zh, status, code, msg, c.code, c.msg)
		}
	}
}
