// Package secret owns opaque tokens and the keyed hashes they are stored
// under.
//
// Every opaque token Sesame issues (session tokens, state tokens, access
// tokens, SSO tickets, client secrets it generates) is 256 bits from
// crypto/rand, well above the 128 bits contract §1 asks for. Because such
// tokens have full entropy, a fast keyed hash (HMAC-SHA-256 under a server
// key) is the right storage form: a slow password KDF would only burn CPU
// on every request (see guides: Hydra's bcrypt client-secret bottleneck),
// and the key means a stolen database alone cannot even confirm a guess.
package secret
