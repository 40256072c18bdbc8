package sdk_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sesame-idp/sesame/sdk"
)

// TestErrorIs maps every code of both dialects (contract §6) and the
// OAuth codes to the sentinels.
func TestErrorIs(t *testing.T) {
	all := []error{sdk.ErrSessionInvalid, sdk.ErrSessionExpired, sdk.ErrBadCredentials, sdk.ErrAccountLocked, sdk.ErrAccountDisabled,
		sdk.ErrPasswordPolicy, sdk.ErrStateTokenInvalid, sdk.ErrSSOTicketInvalid, sdk.ErrUnknownClient, sdk.ErrSystemBusy, sdk.ErrInvalidToken,
		sdk.ErrSignatureInvalid, sdk.ErrSignatureRejected, sdk.ErrMFACodeInvalid, sdk.ErrMFANotEnrolled, sdk.ErrMFAAlreadyEnrolled, sdk.ErrMFAUnavailable}
	for code, want := range map[string][]error{
		"SDK.COMMON.1006":         {sdk.ErrSessionInvalid},
		"SDK.COMMON.1005":         {sdk.ErrSessionInvalid, sdk.ErrSessionExpired},
		"IDAAS.SDK.PARAM.0023":    {sdk.ErrSessionInvalid},
		"SDK.LOGIN.1010":          {sdk.ErrBadCredentials},
		"IDAAS.SDK.LOGIN.0001":    {sdk.ErrBadCredentials},
		"SDK.LOGIN.1003":          {sdk.ErrAccountLocked},
		"IDAAS.SDK.LOGIN.0002":    {sdk.ErrAccountLocked},
		"SDK.LOGIN.1011":          {sdk.ErrAccountDisabled},
		"IDAAS.SDK.LOGIN.0003":    {sdk.ErrAccountDisabled},
		"SDK.LOGIN.1012":          {sdk.ErrPasswordPolicy},
		"IDAAS.SDK.LOGIN.0004":    {sdk.ErrPasswordPolicy},
		"SDK.COMMON.1012":         {sdk.ErrUnknownClient},
		"IDAAS.SDK.PARAM.0003":    {sdk.ErrUnknownClient},
		"invalid_client":          {sdk.ErrUnknownClient},
		"SDK.COMMON.1008":         {sdk.ErrSystemBusy},
		"IDAAS.SDK.COM.0002":      {sdk.ErrSystemBusy},
		"IDAAS.TENANT.COM.0002":   {sdk.ErrSystemBusy},
		"temporarily_unavailable": {sdk.ErrSystemBusy},
		"invalid_token":           {sdk.ErrInvalidToken},
		"SDK.COMMON.1004":         {sdk.ErrSignatureInvalid},
		"IDAAS.SDK.PARAM.0006":    {sdk.ErrSignatureInvalid},
		"SDK.LOGIN.1013":          {sdk.ErrMFACodeInvalid},
		"IDAAS.SDK.LOGIN.0005":    {sdk.ErrMFACodeInvalid},
		"SDK.LOGIN.1014":          {sdk.ErrMFANotEnrolled},
		"IDAAS.SDK.LOGIN.0006":    {sdk.ErrMFANotEnrolled},
		"SDK.LOGIN.1015":          {sdk.ErrMFAAlreadyEnrolled},
		"IDAAS.SDK.LOGIN.0007":    {sdk.ErrMFAAlreadyEnrolled},
		"SDK.LOGIN.1016":          {sdk.ErrMFAUnavailable},
		"IDAAS.SDK.LOGIN.0008":    {sdk.ErrMFAUnavailable},
		"SDK.COMMON.1001":         nil,
		"IDAAS.SDK.PARAM.0005":    nil, // a state token or ticket; which one, the call tells
		"invalid_request":         nil,
	} {
		err := fmt.Errorf("wrapped: %w", &sdk.Error{Code: code, Message: "m", HTTPStatus: 400})
		for _, target := range all {
			w := false
			for _, x := range want {
				w = w || x == target
			}
			if got := errors.Is(err, target); got != w {
				t.Errorf("%s: errors.Is(%v) = %v, want %v", code, target, got, w)
			}
		}
	}
	if got := (&sdk.Error{HTTPStatus: 502, Message: "Bad Gateway"}).Error(); got != "sesame: HTTP 502: Bad Gateway" {
		t.Errorf("Error() = %q", got)
	}
}
