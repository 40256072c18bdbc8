// Package idtoken owns the id_token of contract §7: its claims, its minting
// as a compact JWS signed with the tenant's current key (package keys), and
// the OpenID Connect at_hash.
//
// The SDK exchange (contract §2.2) and the OAuth 2.0 / OIDC token endpoint
// (§4) both mint through a Minter; they decide the claims, this package
// decides their encoding, the time claims and the signature.
package idtoken
