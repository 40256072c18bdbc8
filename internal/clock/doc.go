// Package clock owns what Sesame assumes about time across nodes: MaxSkew,
// the documented bound on how far the clocks of any two nodes (and of the
// sesame CLI run against the same database) may differ.
//
// Every node decides expiry with its own clock against times another node
// wrote, so a node whose clock is ahead sees every record a little older,
// and one behind a little younger. Within MaxSkew nothing a client holds
// breaks; where a check would otherwise be unsafe or break under that
// skew, the leeway is applied there:
//
//   - signing keys (package keys): a retired key stays published MaxSkew
//     longer than the longest lifetime of a token it signed, because a node
//     whose clock is behind keeps signing with it until its own clock
//     reaches the new key's activation; config requires
//     keys.rotation_delay >= keys.refresh_interval + MaxSkew, so that no
//     node, however fast its clock, signs with a key before every node has
//     loaded it;
//   - nonces of signed SDK calls (package sdkapi) are kept MaxSkew past
//     their window, so that a node whose clock is ahead cannot sweep a
//     nonce that a node behind would still accept a replay of;
//   - a rotated refresh token whose answer may have been lost (package
//     oidc) is judged by its age only beyond MaxSkew.
//
// Lifetimes (tokens, codes, state tokens, tickets, sessions) are honoured
// to within MaxSkew of the issuing node's clock; they are minutes or more,
// so that is a small fraction. The rotation grace of session tokens
// (contract §2.2, 30 s by default) is measured on the clock of the node
// that answers the retry: a retry on another node is answered for at least
// the grace minus MaxSkew. id_tokens carry nbf = iat − 120 s (contract
// §7), and the Go SDK's verifier allows 30 s on exp and nbf, both beyond
// MaxSkew.
package clock
