package server

import (
	"net/http"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/console"
)

// mountConsole serves the web console under /admin/ (package console) on
// the system tenant's host, where the console application's redirect
// URIs are registered.
func (s *Server) mountConsole(mux *http.ServeMux) error {
	base, err := admin.SystemBase(s.cfg.Admin.Domain, s.cfg.Server.PublicURL)
	if err != nil {
		return err
	}
	h, err := console.New(s.cfg.Admin.Domain, base)
	if err != nil {
		return err
	}
	h.Mount(mux)
	return nil
}
