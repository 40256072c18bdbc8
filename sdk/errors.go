package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. Errors returned by this package match them with
// errors.Is; an *Error from the server matches the ones its code means, in
// both dialects (EIAM "SDK.*" codes and CIAM "IDAAS.SDK.*" codes), so an
// app handles both editions with the same code:
//
//	if errors.Is(err, sdk.ErrBadCredentials) { ... }
var (
	// ErrSessionInvalid: the session token is unknown, revoked, rotated
	// past its grace period, presented from another device, or expired
	// (SDK.COMMON.1006, SDK.COMMON.1005, IDAAS.SDK.PARAM.0023). The user
	// has to log in again.
	ErrSessionInvalid = errors.New("sesame: session invalid or expired")
	// ErrSessionExpired: the session token has expired (SDK.COMMON.1005).
	// Only EIAM tenants tell expiry apart; CIAM tenants answer
	// IDAAS.SDK.PARAM.0023, which matches ErrSessionInvalid only. An
	// expired session matches ErrSessionInvalid too.
	ErrSessionExpired = errors.New("sesame: session expired")
	// ErrBadCredentials: wrong user name or password, or an unknown user
	// (SDK.LOGIN.1010, IDAAS.SDK.LOGIN.0001).
	ErrBadCredentials = errors.New("sesame: invalid user name or password")
	// ErrAccountLocked: too many failed logins; the message says for how
	// long (SDK.LOGIN.1003, IDAAS.SDK.LOGIN.0002).
	ErrAccountLocked = errors.New("sesame: account locked")
	// ErrAccountDisabled: the account is disabled (SDK.LOGIN.1011,
	// IDAAS.SDK.LOGIN.0003).
	ErrAccountDisabled = errors.New("sesame: account disabled")
	// ErrPasswordPolicy: a new password does not meet the tenant's
	// password policy (SDK.LOGIN.1012, IDAAS.SDK.LOGIN.0004). The state
	// token is not spent; try again with another password.
	ErrPasswordPolicy = errors.New("sesame: password does not meet the policy")
	// ErrStateTokenInvalid: the state token of a PASSWORD_WARN or
	// PASSWORD_EXPIRED login is unknown, used, expired or from another
	// device (SDK.COMMON.1006 or IDAAS.SDK.PARAM.0005 answering a state
	// call). Log in again.
	ErrStateTokenInvalid = errors.New("sesame: state token invalid or expired")
	// ErrSSOTicketInvalid: the SSO ticket is unknown, used or expired
	// (SDK.COMMON.1006 or IDAAS.SDK.PARAM.0005 answering a ticket
	// verification).
	ErrSSOTicketInvalid = errors.New("sesame: sso ticket invalid or expired")
	// ErrUnknownClient: the client id is not an application of the tenant
	// (SDK.COMMON.1012, IDAAS.SDK.PARAM.0003), or the tenant API refused
	// the client's credentials (OAuth invalid_client): a configuration
	// error.
	ErrUnknownClient = errors.New("sesame: unknown client or bad client credentials")
	// ErrSystemBusy: the server is temporarily unable to answer
	// (SDK.COMMON.1008, IDAAS.SDK.COM.0002, IDAAS.TENANT.COM.0002, OAuth
	// temporarily_unavailable). Calls retry it by themselves (WithRetry);
	// it is returned when the attempts are used up.
	ErrSystemBusy = errors.New("sesame: system busy")
	// ErrInvalidToken: the tenant API refused the application access
	// token (OAuth invalid_token). A TenantClient fetches a new token and
	// retries once by itself before returning it.
	ErrInvalidToken = errors.New("sesame: invalid access token")
	// ErrSignatureInvalid: the server could not decrypt an X-signature of
	// the signed form (WithSignedSession): it was not encrypted to the
	// application's current key, or is corrupt (SDK.COMMON.1004,
	// IDAAS.SDK.PARAM.0006). The Client forgets the key it cached and
	// fetches it again on its next signed call.
	ErrSignatureInvalid = errors.New("sesame: signature invalid")
	// ErrSignatureRejected: the server decrypted an X-signature but
	// refused its timestamp (too far from the server's clock) or its
	// nonce (already used) (SDK.COMMON.1006 naming timestamp or nonce,
	// IDAAS.SDK.PARAM.0005, answering a signed call). A Client has already
	// read the server's clock again and repeated the call once before
	// returning a refused timestamp. The session itself may be fine: it
	// does not match ErrSessionInvalid.
	ErrSignatureRejected = errors.New("sesame: signature timestamp or nonce rejected")

	// ErrNotLoggedIn is returned by Client.ExchangeSessionToken when the
	// TokenStore holds no session token. It comes from the client, not
	// the server.
	ErrNotLoggedIn = errors.New("sesame: not logged in")
	// ErrInvalidIDToken wraps every reason a Verifier rejects an id_token
	// (bad signature, unknown key, wrong issuer or audience, expired...).
	// Failures to fetch the key set are not wrapped in it: they say
	// nothing about the token.
	ErrInvalidIDToken = errors.New("sesame: invalid id_token")
	// ErrIDTokenExpired is wrapped, together with ErrInvalidIDToken, when
	// an id_token is rejected because it has expired.
	ErrIDTokenExpired = errors.New("sesame: id_token expired")

	// ErrMFACodeInvalid: a TOTP or recovery code was wrong, already used,
	// or a replay of an accepted code. It counts toward the account
	// lockout; the state token stays usable for five codes in all.
	ErrMFACodeInvalid = errors.New("sesame: invalid verification code")
	// ErrMFANotEnrolled: the user has no TOTP authenticator.
	ErrMFANotEnrolled = errors.New("sesame: two-factor authentication not set up")
	// ErrMFAAlreadyEnrolled: the user has a TOTP authenticator already.
	ErrMFAAlreadyEnrolled = errors.New("sesame: two-factor authentication already set up")
	// ErrMFAUnavailable: the tenant's MFA policy is off.
	ErrMFAUnavailable = errors.New("sesame: two-factor authentication not enabled for the tenant")
)

// Error is an error answer of the Sesame server. SDK-format answers
// ({"error_code","error_msg"}) give Code and Message; OAuth-format answers
// ({"error","error_description"}, from the tenant API's authentication)
// give the OAuth error as Code and its description as Message. An answer
// in neither format has an empty Code and the HTTP status text as Message.
//
// Compare an Error with the sentinel errors of this package (errors.Is),
// which cover both dialects, rather than with codes.
type Error struct {
	// Code is the error code: "SDK.LOGIN.1010", "IDAAS.SDK.PARAM.0023",
	// "invalid_token", ...
	Code string
	// Message is the server's message, in the requested language.
	Message string
	// HTTPStatus is the status of the answer.
	HTTPStatus int

	// subject is the token the failed call was about, which tells apart
	// EIAM's SDK.COMMON.1006 for a session, a state token or a ticket.
	subject string
}

// Subjects of calls, for Error.subject.
const (
	subjectSession = "session_token"
	subjectState   = "state_token"
	subjectTicket  = "sso_ticket"
	// subjectSessionState: a call with a session token and a state token
	// (the TOTP confirmation).
	subjectSessionState = "session_token+state_token"
	// subjectSigned: a signed call, whose "invalid parameter" answers
	// name the session token, the timestamp or the nonce.
	subjectSigned = "signature"
)

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("sesame: HTTP %d: %s", e.HTTPStatus, e.Message)
	}
	return fmt.Sprintf("sesame: %s: %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
}

// Is reports whether e is an instance of the sentinel target, mapping the
// codes of both dialects (and OAuth error codes) to the sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrSessionInvalid:
		switch e.Code {
		case "SDK.COMMON.1006":
			// EIAM uses 1006 for any invalid token parameter; in a signed
			// call also for the timestamp and the nonce.
			return e.subject == "" || e.subject == subjectSession || (e.subject == subjectSigned && e.signedParam() == "") ||
				(e.subject == subjectSessionState && !strings.Contains(e.Message, "state_token"))
		case "SDK.COMMON.1005", "IDAAS.SDK.PARAM.0023":
			return true
		}
	case ErrSessionExpired:
		return e.Code == "SDK.COMMON.1005"
	case ErrStateTokenInvalid:
		switch e.subject {
		case subjectState:
			return e.Code == "SDK.COMMON.1006" || e.Code == "IDAAS.SDK.PARAM.0005"
		case subjectSessionState:
			// EIAM answers both tokens with 1006; its message names the
			// parameter ("state_token parameter error").
			return (e.Code == "SDK.COMMON.1006" && strings.Contains(e.Message, "state_token")) || e.Code == "IDAAS.SDK.PARAM.0005"
		}
	case ErrSSOTicketInvalid:
		return e.subject == subjectTicket && (e.Code == "SDK.COMMON.1006" || e.Code == "IDAAS.SDK.PARAM.0005")
	case ErrBadCredentials:
		return e.Code == "SDK.LOGIN.1010" || e.Code == "IDAAS.SDK.LOGIN.0001"
	case ErrAccountLocked:
		return e.Code == "SDK.LOGIN.1003" || e.Code == "IDAAS.SDK.LOGIN.0002"
	case ErrAccountDisabled:
		return e.Code == "SDK.LOGIN.1011" || e.Code == "IDAAS.SDK.LOGIN.0003"
	case ErrPasswordPolicy:
		return e.Code == "SDK.LOGIN.1012" || e.Code == "IDAAS.SDK.LOGIN.0004"
	case ErrMFACodeInvalid:
		return e.Code == "SDK.LOGIN.1013" || e.Code == "IDAAS.SDK.LOGIN.0005"
	case ErrMFANotEnrolled:
		return e.Code == "SDK.LOGIN.1014" || e.Code == "IDAAS.SDK.LOGIN.0006"
	case ErrMFAAlreadyEnrolled:
		return e.Code == "SDK.LOGIN.1015" || e.Code == "IDAAS.SDK.LOGIN.0007"
	case ErrMFAUnavailable:
		return e.Code == "SDK.LOGIN.1016" || e.Code == "IDAAS.SDK.LOGIN.0008"
	case ErrUnknownClient:
		return e.Code == "SDK.COMMON.1012" || e.Code == "IDAAS.SDK.PARAM.0003" || e.Code == "invalid_client"
	case ErrSystemBusy:
		switch e.Code {
		case "SDK.COMMON.1008", "IDAAS.SDK.COM.0002", "IDAAS.TENANT.COM.0002", "temporarily_unavailable":
			return true
		}
	case ErrInvalidToken:
		return e.Code == "invalid_token"
	case ErrSignatureInvalid:
		return e.Code == "SDK.COMMON.1004" || e.Code == "IDAAS.SDK.PARAM.0006"
	case ErrSignatureRejected:
		if e.subject != subjectSigned {
			return false
		}
		switch e.Code {
		case "SDK.COMMON.1006":
			return e.signedParam() != ""
		case "IDAAS.SDK.PARAM.0005":
			// CIAM answers an invalid session with PARAM.0023.
			return true
		}
	}
	return false
}

// errorBody is either error format of the server.
type errorBody struct {
	ErrorCode        string `json:"error_code"`
	ErrorMsg         string `json:"error_msg"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// newError builds the Error of a non-200 answer.
func newError(status int, b errorBody, ok bool, subject string) *Error {
	e := &Error{HTTPStatus: status, subject: subject}
	switch {
	case ok && b.ErrorCode != "":
		e.Code, e.Message = b.ErrorCode, b.ErrorMsg
	case ok && b.Error != "":
		e.Code, e.Message = b.Error, b.ErrorDescription
	default:
		e.Message = http.StatusText(status)
	}
	return e
}
