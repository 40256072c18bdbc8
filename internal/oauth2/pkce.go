package oauth2

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
)

// ValidPKCEValue reports whether s is a syntactically valid code verifier
// or S256 challenge: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636
// §4.1, §4.2).
func ValidPKCEValue(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// VerifyPKCE checks a code verifier against an S256 challenge (RFC 7636
// §4.6): BASE64URL(SHA256(verifier)) == challenge, compared in constant
// time.
func VerifyPKCE(verifier, challenge string) bool {
	if !ValidPKCEValue(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// Scopes Sesame knows. "get_user_info" is the vendor's plain-OAuth scope
// (contract §4); "all" is the tenant API's.
var knownScopes = []string{"openid", "profile", "email", "phone", "offline_access", "get_user_info"}

// ParseScope splits a scope parameter (RFC 6749 §3.3), dropping
// duplicates. ok is false when a scope is not one Sesame knows.
func ParseScope(s string) (scopes []string, ok bool) {
	for _, sc := range strings.Fields(s) {
		if !slices.Contains(knownScopes, sc) {
			return nil, false
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return scopes, true
}

// HasScope reports whether the space-separated scope list has sc.
func HasScope(scope, sc string) bool {
	return slices.Contains(strings.Fields(scope), sc)
}

// SubsetScope reports whether every scope of requested is in granted.
func SubsetScope(requested, granted string) bool {
	for _, sc := range strings.Fields(requested) {
		if !HasScope(granted, sc) {
			return false
		}
	}
	return true
}

// RedirectURIRegistered reports whether uri is exactly one of the
// registered redirect URIs: simple string comparison, as RFC 9700 §4.1.3
// requires (no prefix, wildcard or normalising match).
func RedirectURIRegistered(uri string, registered []string) bool {
	return uri != "" && slices.Contains(registered, uri)
}
