// Package sdkerror owns the vendor error format of the SDK and tenant APIs,
// {"error_code": "...", "error_msg": "..."} (contract §6).
//
// Protocol code returns *Error values naming a situation (a Kind) and its
// parameters; Write is the only place that turns one into a response. The
// tenant's edition picks the dialect (EIAM "SDK.COMMON.1001" or CIAM
// "IDAAS.SDK.PARAM.0001"), the X-L header or the tenant's default language
// picks English or Chinese. Parameters are only ever names of parameters
// or numbers, never values the client sent, so a secret is never echoed.
package sdkerror
