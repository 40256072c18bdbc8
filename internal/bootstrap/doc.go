// Package bootstrap owns applying the configuration's bootstrap section
// (tenants, applications, users) to the store at every start, idempotently,
// and creating the demo tenant of a server started with no configuration.
// It also owns the defaults of contract §8 for tenants and applications.
package bootstrap
