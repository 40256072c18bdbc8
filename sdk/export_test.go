package sdk

import "context"

// Test hooks for package sdk_test.

// NewNonce is the nonce generator of signed calls.
var NewNonce = newNonce

// SetNonceSource replaces the nonce generator of c's signed calls. Call it
// before c is used.
func SetNonceSource(c *Client, f func() string) { c.sig.nonce = f }

// UsePublicKeyOf makes c sign with the public key of other's application
// (until a refused signature makes c fetch its own).
func UsePublicKeyOf(ctx context.Context, c, other *Client) error {
	k, err := other.publicKey(ctx)
	if err != nil {
		return err
	}
	c.sig.mu.Lock()
	c.sig.key = k
	c.sig.mu.Unlock()
	return nil
}
