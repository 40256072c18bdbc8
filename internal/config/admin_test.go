package config

import (
	"strings"
	"testing"
)

func TestAdminConfig(t *testing.T) {
	if d := Defaults().Admin.Domain; d != "admin.localhost" {
		t.Fatalf("default admin.domain %q", d)
	}
	cfg, err := Load("", []string{"SESAME_ADMIN__DOMAIN=Admin.Example.com"}, nil)
	if err != nil || cfg.Admin.Domain != "Admin.Example.com" {
		t.Fatalf("admin.domain from the environment: %q, %v", cfg.Admin.Domain, err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"empty", func(c *Config) { c.Admin.Domain = "" }, "not a host name"},
		{"with port", func(c *Config) { c.Admin.Domain = "admin.test:8080" }, "without a port"},
		{"a tenant's domain", func(c *Config) {
			c.Bootstrap.Tenants = []Tenant{{ID: "acme", Domains: []string{"ADMIN.localhost"}}}
		}, `also a domain of tenant "acme"`},
		{"tenant id system", func(c *Config) {
			c.Bootstrap.Tenants = []Tenant{{ID: "system", Domains: []string{"sys.test"}}}
		}, "reserved"},
	} {
		c := Defaults()
		c.Server.PublicURL = "http://127.0.0.1:8080"
		tc.mutate(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
