package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePProf serves the runtime profiles of net/http/pprof on
// server.pprof (a loopback address, checked by config.Validate) until ctx
// is done. It has a mux of its own: the profiles are never reachable on
// the public listener. A listener that cannot be opened is logged, not
// fatal: profiling is a diagnostic, not a service.
func (s *Server) servePProf(ctx context.Context) {
	addr := s.cfg.Server.PProf
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.logger.Warn("pprof listener failed", "addr", addr, "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	s.logger.Info("pprof listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Warn("pprof listener stopped", "err", err)
	}
}
