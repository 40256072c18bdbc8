package api

import _ "embed"

// AdminOpenAPI is the OpenAPI 3.1 document of the admin API
// (/admin/api/v1/, package admin), served at /admin/api/v1/openapi.json.
// internal/admin's tests keep it in sync with the routes and validate real
// answers against it.
//
//go:embed admin-openapi.json
var AdminOpenAPI []byte
