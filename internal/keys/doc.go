// Package keys owns the signing keys of every tenant: their generation,
// their encryption at rest, their rotation, the in-memory signers built from
// them and the JWKS that publishes them (contract §7).
//
// Each tenant has one key chain per algorithm (RS256, RS512, ES256, EdDSA).
// A chain is a sequence of generations stored through store.Store. At any
// instant a key is in one of three states:
//
//   - next: published in the JWKS, but ActivatesAt is still in the future,
//     so relying parties that cache the JWKS learn it before it signs;
//   - current: the highest generation whose ActivatesAt has passed; it signs
//     every new token of its algorithm;
//   - retired: superseded by a newer current key, still published until
//     RetainUntil, after which no token it signed can still be valid on
//     any node (the retention includes the clock skew between nodes,
//     Options.ClockSkew).
//
// Keys are added, and older ones retired, by single transactions
// (store.Store.AddSigningKey), so a crash at any moment of a rotation
// leaves every chain whole; Manager.Check verifies a tenant's stored keys
// from scratch (sesame keys check).
//
// Private keys are never stored in clear: they are PKCS#8-encoded and
// sealed with AES-256-GCM by a Sealer, bound to their tenant, key id and
// algorithm. Decrypted keys and ready-to-use signers live only in the memory
// of a Manager, which reloads a tenant's keys from the store every
// RefreshInterval so that a rotation made on another node is seen there too.
package keys
