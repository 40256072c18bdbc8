package oauth2

import "testing"

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, test := range []struct {
		verifier, challenge string
		want                bool
	}{
		{verifier, challenge, true},
		{verifier + "x", challenge, false},
		{challenge, challenge, false},
		{"short", challenge, false},
		{verifier, "", false},
		{"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX!", challenge, false},
	} {
		if got := VerifyPKCE(test.verifier, test.challenge); got != test.want {
			t.Errorf("VerifyPKCE(%q, %q) = %v", test.verifier, test.challenge, got)
		}
	}
}

func TestParseScope(t *testing.T) {
	for _, test := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"openid profile", []string{"openid", "profile"}, true},
		{"openid  openid email", []string{"openid", "email"}, true},
		{"", nil, true},
		{"openid admin", nil, false},
	} {
		got, ok := ParseScope(test.in)
		if ok != test.ok || len(got) != len(test.want) {
			t.Errorf("ParseScope(%q) = %v, %v", test.in, got, ok)
		}
	}
	if !SubsetScope("openid", "openid email") || SubsetScope("openid phone", "openid email") {
		t.Error("SubsetScope")
	}
}

func TestRedirectURIRegistered(t *testing.T) {
	reg := []string{"https://app.example/cb"}
	for uri, want := range map[string]bool{
		"https://app.example/cb":              true,
		"https://app.example/cb/":             false,
		"https://app.example/cb?x=1":          false,
		"https://APP.example/cb":              false,
		"https://app.example/cb/../evil":      false,
		"https://app.example.evil.example/cb": false,
		"":                                    false,
	} {
		if got := RedirectURIRegistered(uri, reg); got != want {
			t.Errorf("%q: got %v", uri, got)
		}
	}
}
