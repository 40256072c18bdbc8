package sdkerror

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Kind names a situation of contract §6.
type Kind int

// The situations of contract §6, plus the few this product adds in the
// vendor's naming pattern.
const (
	// ParamMissing: a required header or field is absent. Args: its name.
	ParamMissing Kind = iota + 1
	// DeviceIncomplete: one of the device headers is absent.
	DeviceIncomplete
	// ParamMalformed: a parameter has the wrong format. Args: its name.
	ParamMalformed
	// ParamInvalid: a parameter is well-formed but unknown, used or
	// expired (a state token or an SSO ticket). Args: its name.
	ParamInvalid
	// UnknownClient: the X-client-id is not an application of the tenant.
	UnknownClient
	// SessionInvalid: the session token is unknown, revoked, rotated past
	// its grace period, or presented from another device.
	SessionInvalid
	// SessionExpired: the session token has expired.
	SessionExpired
	// BadCredentials: wrong user name or password, or unknown user.
	BadCredentials
	// AccountLocked: too many failures. Args: minutes, seconds left.
	AccountLocked
	// AccountDisabled: the password was right but the account is disabled.
	AccountDisabled
	// PasswordPolicy: a new password does not meet the tenant's policy.
	PasswordPolicy
	// SystemBusy: storage or a dependency is unavailable or saturated.
	SystemBusy
	// SignatureInvalid: an X-signature that is not base64, was not
	// encrypted to the application's key, or does not decrypt to the
	// expected fields.
	SignatureInvalid
	// TooManyRequests: a rate limit refused the request (HTTP 429, with
	// Retry-After); the code is this product's, in the vendor's pattern.
	TooManyRequests
	// MFACodeInvalid: a TOTP or recovery code is wrong, was used already,
	// or is a replay of an accepted one (RFC 6238 §5.2).
	MFACodeInvalid
	// MFANotEnrolled: the account has no TOTP authenticator to use or
	// remove.
	MFANotEnrolled
	// MFAAlreadyEnrolled: the account has a TOTP authenticator already;
	// remove it first.
	MFAAlreadyEnrolled
	// MFAUnavailable: the tenant's MFA policy is off.
	MFAUnavailable

	kindEnd // must stay last
)

// Error is an SDK protocol error as a value.
type Error struct {
	Kind Kind
	Args []string
	// Cause is the internal error behind a SystemBusy, for logs only; it is
	// never rendered.
	Cause error
}

// New returns an error of kind with message parameters args.
func New(kind Kind, args ...string) *Error { return &Error{Kind: kind, Args: args} }

// Busy returns a SystemBusy error that remembers its cause for the logs.
func Busy(cause error) *Error { return &Error{Kind: SystemBusy, Cause: cause} }

func (e *Error) Error() string {
	status, code, msg := e.Render("eiam", false)
	s := fmt.Sprintf("sdk error %s (%d): %s", code, status, msg)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// entry is one row of the catalogue: a code, its HTTP status and its
// message templates ({0}, {1} are replaced by Args).
type entry struct {
	Code   string
	Status int
	EN, ZH string
}

// eiam and ciam are the two dialects. A Kind missing from either map is a
// bug that TestCatalogueComplete catches.
var (
	eiam = map[Kind]entry{
		ParamMissing:     {"SDK.COMMON.1001", 400, "Parameter {0} cannot be empty", "参数{0}不能为空"},
		DeviceIncomplete: {"SDK.COMMON.1003", 400, "Device information is incomplete", "设备信息不完整"},
		ParamMalformed:   {"SDK.COMMON.1002", 400, "Parameter {0} format is incorrect", "参数{0}格式不正确"},
		ParamInvalid:     {"SDK.COMMON.1006", 400, "{0} parameter error", "{0}参数错误"},
		UnknownClient:    {"SDK.COMMON.1012", 400, "The app is not registered, please register the app first", "应用未注册,请先注册应用"},
		SessionInvalid:   {"SDK.COMMON.1006", 400, "session_token parameter error", "session_token参数错误"},
		SessionExpired:   {"SDK.COMMON.1005", 400, "session_token has expired", "session_token已过期"},
		BadCredentials:   {"SDK.LOGIN.1010", 400, "Invalid user name or password", "用户名或密码错误"},
		AccountLocked:    {"SDK.LOGIN.1003", 400, "The user has been locked due to too many unsuccessful login attempts. It will be unlocked in {0} minutes and {1} seconds", "由于多次登录失败,用户已被锁定。它将在 {0} 分钟和 {1} 秒内解锁"},
		AccountDisabled:  {"SDK.LOGIN.1011", 400, "The account has been disabled", "账号已被禁用"},
		PasswordPolicy:   {"SDK.LOGIN.1012", 400, "The new password does not meet the password policy", "新密码不符合密码策略"},
		SystemBusy:       {"SDK.COMMON.1008", 500, "System busy, please try again later", "系统繁忙,请稍后再试"},
		SignatureInvalid: {"SDK.COMMON.1004", 400, "Signature decryption error", "签名解密错误"},
		TooManyRequests:  {"SDK.COMMON.1015", 429, "Too many requests, please try again later", "请求过于频繁,请稍后再试"},
		// Second factor (TOTP): this product's codes, in the vendor's
		// SDK.LOGIN pattern.
		MFACodeInvalid:     {"SDK.LOGIN.1013", 400, "Invalid verification code", "验证码错误"},
		MFANotEnrolled:     {"SDK.LOGIN.1014", 400, "Two-factor authentication is not set up for this account", "该账号未设置双因素认证"},
		MFAAlreadyEnrolled: {"SDK.LOGIN.1015", 400, "Two-factor authentication is already set up for this account", "该账号已设置双因素认证"},
		MFAUnavailable:     {"SDK.LOGIN.1016", 400, "Two-factor authentication is not enabled for this tenant", "该租户未启用双因素认证"},
	}
	ciam = map[Kind]entry{
		ParamMissing:     {"IDAAS.SDK.PARAM.0001", 400, "Parameter {0} cannot be empty", "参数{0}不能为空"},
		DeviceIncomplete: {"IDAAS.SDK.PARAM.0001", 400, "Device information is incomplete", "设备信息不完整"},
		ParamMalformed:   {"IDAAS.SDK.PARAM.0004", 400, "Parameter {0} format is incorrect", "参数{0}格式不正确"},
		ParamInvalid:     {"IDAAS.SDK.PARAM.0005", 400, "Parameter {0} is invalid or expired", "参数{0}无效或已过期"},
		UnknownClient:    {"IDAAS.SDK.PARAM.0003", 400, "The app is not registered, please register the app first", "应用未注册,请先注册应用"},
		SessionInvalid:   {"IDAAS.SDK.PARAM.0023", 400, "Invalid or expired session token", "会话令牌无效或已过期"},
		SessionExpired:   {"IDAAS.SDK.PARAM.0023", 400, "Invalid or expired session token", "会话令牌无效或已过期"},
		BadCredentials:   {"IDAAS.SDK.LOGIN.0001", 400, "Invalid user name or password", "用户名或密码错误"},
		AccountLocked:    {"IDAAS.SDK.LOGIN.0002", 400, "The user has been locked due to too many unsuccessful login attempts. It will be unlocked in {0} minutes and {1} seconds", "由于多次登录失败,用户已被锁定。它将在 {0} 分钟和 {1} 秒内解锁"},
		AccountDisabled:  {"IDAAS.SDK.LOGIN.0003", 400, "The account has been disabled", "账号已被禁用"},
		PasswordPolicy:   {"IDAAS.SDK.LOGIN.0004", 400, "The new password does not meet the password policy", "新密码不符合密码策略"},
		// Contract §6: the vendor documents this one as 400 in CIAM.
		SystemBusy:         {"IDAAS.SDK.COM.0002", 400, "System busy, please try again later", "系统繁忙,请稍后再试"},
		SignatureInvalid:   {"IDAAS.SDK.PARAM.0006", 400, "Signature decryption error", "签名解密错误"},
		TooManyRequests:    {"IDAAS.SDK.COM.0003", 429, "Too many requests, please try again later", "请求过于频繁,请稍后再试"},
		MFACodeInvalid:     {"IDAAS.SDK.LOGIN.0005", 400, "Invalid verification code", "验证码错误"},
		MFANotEnrolled:     {"IDAAS.SDK.LOGIN.0006", 400, "Two-factor authentication is not set up for this account", "该账号未设置双因素认证"},
		MFAAlreadyEnrolled: {"IDAAS.SDK.LOGIN.0007", 400, "Two-factor authentication is already set up for this account", "该账号已设置双因素认证"},
		MFAUnavailable:     {"IDAAS.SDK.LOGIN.0008", 400, "Two-factor authentication is not enabled for this tenant", "该租户未启用双因素认证"},
	}
	// ciamMissing are the CIAM codes for two parameters the vendor gives
	// codes of their own (contract §6, seed 001).
	ciamMissing = map[string]entry{
		"client_id":     {"IDAAS.SDK.PARAM.0002", 400, "clientId cannot be empty", "clientId不能为空"},
		"session_token": {"IDAAS.SDK.PARAM.0022", 400, "Session token cannot be empty", "会话令牌不能为空"},
	}
)

// ciamParamClass maps a missing parameter's name to the CIAM row it falls
// under; both header and body spellings are recognised.
func ciamParamClass(name string) string {
	switch strings.ToLower(name) {
	case "x-client-id", "client_id":
		return "client_id"
	case "x-session-token", "session-token", "session_token":
		return "session_token"
	}
	return ""
}

func (e *Error) lookup(edition string) entry {
	if edition == "ciam" {
		if e.Kind == ParamMissing && len(e.Args) > 0 {
			if row, ok := ciamMissing[ciamParamClass(e.Args[0])]; ok {
				return row
			}
		}
		if row, ok := ciam[e.Kind]; ok {
			return row
		}
	} else if row, ok := eiam[e.Kind]; ok {
		return row
	}
	// Unknown kinds cannot be built outside this package's tests; answer
	// as busy rather than with an empty code.
	return eiam[SystemBusy]
}

// Render returns the HTTP status, code and message of e in the edition's
// dialect, in Chinese when zh is true.
func (e *Error) Render(edition string, zh bool) (status int, code, msg string) {
	row := e.lookup(edition)
	tmpl := row.EN
	if zh {
		tmpl = row.ZH
	}
	for i, a := range e.Args {
		tmpl = strings.ReplaceAll(tmpl, fmt.Sprintf("{%d}", i), a)
	}
	return row.Status, row.Code, tmpl
}

// WantsChinese reports whether an X-L header value selects Chinese
// (contract §2: "zh", also "zh-CN", in any case). When the header is
// absent the tenant's default language decides.
func WantsChinese(xl string, present bool, tenantDefault string) bool {
	if !present {
		return tenantDefault == "zh"
	}
	xl = strings.ToLower(strings.TrimSpace(xl))
	return xl == "zh" || strings.HasPrefix(xl, "zh-") || strings.HasPrefix(xl, "zh_")
}

// Language returns the language an SDK request's errors are written in.
func Language(r *http.Request, tenantDefault string) (zh bool) {
	v, ok := r.Header["X-L"]
	if !ok || len(v) == 0 {
		return WantsChinese("", false, tenantDefault)
	}
	return WantsChinese(v[0], true, tenantDefault)
}

// body is the wire form.
type body struct {
	Code string `json:"error_code"`
	Msg  string `json:"error_msg"`
}

// Write writes e in the tenant's dialect and language. It is the only
// writer of this error format.
func Write(w http.ResponseWriter, edition string, zh bool, e *Error) {
	status, code, msg := e.Render(edition, zh)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body{Code: code, Msg: msg})
}
