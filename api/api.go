// Package api holds the OpenAPI 3.1 description of Sesame's public APIs
// (the SDK API, the tenant API and the OAuth 2.0 / OpenID Connect
// endpoints of shared/spec/API.md). The document is the file openapi.json
// next to this one; internal/server/openapi_test.go keeps it true by
// validating a real server's requests and responses against it.
package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the document, as served at GET /api/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(OpenAPI)
	})
}
