package sdkapi

import (
	"net/http"

	"github.com/sesame-idp/sesame/internal/mfa"
	"github.com/sesame-idp/sesame/internal/session"
)

// mountMFA registers the second factor's endpoints: the login step of
// contract §2.1 (…/login/state/mfa) and this product's
// session-authenticated enrolment endpoints (/api/v2/sdk/mfa/totp/...),
// with which users of an "optional" tenant set up or remove TOTP.
func (h *Handler) mountMFA(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v2/sdk/login/state/mfa", h.serve(h.verifyMFA))
	mux.HandleFunc("GET /api/v2/sdk/mfa/totp", h.serve(h.mfaStatus))
	mux.HandleFunc("POST /api/v2/sdk/mfa/totp/enroll", h.serve(h.enrollTOTP))
	mux.HandleFunc("POST /api/v2/sdk/mfa/totp/confirm", h.serve(h.confirmTOTP))
	mux.HandleFunc("POST /api/v2/sdk/mfa/totp/disable", h.serve(h.disableTOTP))
}

// enrollmentWire is the secret of an enrolment as authenticator apps
// take it.
type enrollmentWire struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

func toEnrollmentWire(e *session.Enrollment) *enrollmentWire {
	if e == nil {
		return nil
	}
	return &enrollmentWire{Secret: e.Secret, OTPAuthURI: e.URI}
}

func (h *Handler) verifyMFA(c *call) (any, error) {
	var stateToken, code string
	if err := DecodeBody(c.r,
		Field{Name: "state_token", Max: maxToken, Required: true, Dst: &stateToken},
		Field{Name: "code", Max: mfa.MaxCodeLen, Required: true, Dst: &code},
	); err != nil {
		return nil, err
	}
	res, err := h.Sessions.VerifyMFA(c.ctx, c.tenant, c.app, stateToken, code, c.common.Device, false)
	if err != nil {
		return nil, err
	}
	return toLoginResponse(res), nil
}

type mfaStatusResponse struct {
	Policy            string `json:"policy"`
	Enrolled          bool   `json:"enrolled"`
	EnrolledAt        *int64 `json:"enrolled_at,omitempty"` // ms since epoch
	RecoveryCodesLeft int    `json:"recovery_codes_left"`
}

func (h *Handler) mfaStatus(c *call) (any, error) {
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	st, serr := h.Sessions.MFAStatus(c.ctx, c.tenant, c.app, tok, c.common.Device)
	if serr != nil {
		return nil, serr
	}
	out := mfaStatusResponse{Policy: st.Policy, Enrolled: st.Enrolled, RecoveryCodesLeft: st.RecoveryCodesLeft}
	if st.Enrolled {
		ms := st.EnrolledAt.UnixMilli()
		out.EnrolledAt = &ms
	}
	return out, nil
}

type enrollResponse struct {
	StateToken string `json:"state_token"`
	Expire     int64  `json:"expire"`
	enrollmentWire
}

func (h *Handler) enrollTOTP(c *call) (any, error) {
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	res, serr := h.Sessions.BeginTOTPEnrollment(c.ctx, c.tenant, c.app, tok, c.common.Device)
	if serr != nil {
		return nil, serr
	}
	return enrollResponse{
		StateToken: res.StateToken, Expire: int64(session.StateTokenTTL.Seconds()),
		enrollmentWire: *toEnrollmentWire(&res.Enrollment),
	}, nil
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (h *Handler) confirmTOTP(c *call) (any, error) {
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	var stateToken, code string
	if err := DecodeBody(c.r,
		Field{Name: "state_token", Max: maxToken, Required: true, Dst: &stateToken},
		Field{Name: "code", Max: mfa.MaxCodeLen, Required: true, Dst: &code},
	); err != nil {
		return nil, err
	}
	codes, serr := h.Sessions.ConfirmTOTPEnrollment(c.ctx, c.tenant, c.app, tok, stateToken, code, c.common.Device)
	if serr != nil {
		return nil, serr
	}
	return recoveryCodesResponse{RecoveryCodes: codes}, nil
}

func (h *Handler) disableTOTP(c *call) (any, error) {
	tok, err := SessionToken(c.r.Header, c.sessionHeaderName())
	if err != nil {
		return nil, err
	}
	var code string
	if err := DecodeBody(c.r, Field{Name: "code", Max: mfa.MaxCodeLen, Required: true, Dst: &code}); err != nil {
		return nil, err
	}
	if err := h.Sessions.DisableTOTP(c.ctx, c.tenant, c.app, tok, code, c.common.Device); err != nil {
		return nil, err
	}
	return emptyBody{}, nil
}
