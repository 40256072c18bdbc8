// Package tenant owns the mapping from a request to its tenant (contract
// §1): the Host header, matched without its port against the tenants'
// domains, or, on a configured common domain, the X-tenant-id header (ISV
// mode). It also owns each tenant's issuer URL (contract §4).
package tenant
