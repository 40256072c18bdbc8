package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/keys"
)

// listKeys lists the tenant's signing keys (next, current and retired
// but still published; contract §7), without their secrets.
func (h *Handler) listKeys(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	infos, err := h.Keys.Keys(c.ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	if infos == nil {
		infos = []keys.KeyInfo{}
	}
	return http.StatusOK, newList(infos, ""), nil
}

type rotateBody struct {
	// Algorithms to rotate; absent or empty: all.
	Algorithms []string `json:"algorithms"`
}

// rotateKeys adds and publishes a new key per algorithm; it signs after
// keys.rotation_delay, so relying parties that cache the JWKS see it
// first (the keys package's rules). The answer is the new key list.
func (h *Handler) rotateKeys(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	var b rotateBody
	if err := decode(c.r, &b, true); err != nil {
		return 0, nil, err
	}
	for i, alg := range b.Algorithms {
		if !keys.Supported(alg) {
			return 0, nil, invalid(fmt.Sprintf("algorithms[%d]", i), "RS256, RS512, ES256 or EdDSA")
		}
	}
	if err := h.Keys.Rotate(c.ctx, t.ID, b.Algorithms...); err != nil {
		return 0, nil, err
	}
	algs := slices.Clone(b.Algorithms)
	if len(algs) == 0 {
		algs = keys.Algorithms()
	}
	h.record(c, "keys.rotate", t.ID, "keys:"+t.ID, map[string]string{"algorithms": strings.Join(algs, ",")})
	return h.listKeys(c)
}
