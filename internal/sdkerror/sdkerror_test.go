package sdkerror

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var placeholder = regexp.MustCompile(`\{\d\}`)

// TestCatalogueComplete fails when a code lacks a message in either
// language, or when the two languages disagree on placeholders.
func TestCatalogueComplete(t *testing.T) {
	rows := map[string]entry{}
	for k := ParamMissing; k < kindEnd; k++ {
		for name, dialect := range map[string]map[Kind]entry{"eiam": eiam, "ciam": ciam} {
			row, ok := dialect[k]
			if !ok {
				t.Errorf("%s: kind %d has no row", name, k)
				continue
			}
			rows[name+"/"+row.Code+"/"+row.EN] = row
		}
	}
	for name, row := range ciamMissing {
		rows["ciam-missing/"+name] = row
	}
	for name, row := range rows {
		if row.Code == "" || row.EN == "" || row.ZH == "" || row.Status < 400 {
			t.Errorf("%s: incomplete row %+v", name, row)
		}
		en, zh := placeholder.FindAllString(row.EN, -1), placeholder.FindAllString(row.ZH, -1)
		if strings.Join(en, ",") != strings.Join(zh, ",") {
			t.Errorf("%s: placeholders differ: en %v, zh %v", name, en, zh)
		}
		if !strings.ContainsFunc(row.ZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Errorf("%s: Chinese message %q has no Chinese", name, row.ZH)
		}
	}
}

func TestRender(t *testing.T) {
	for _, test := range []struct {
		err       *Error
		edition   string
		zh        bool
		status    int
		code, msg string
	}{
		{New(ParamMissing, "X-client-id"), "eiam", false, 400, "SDK.COMMON.1001", "Parameter X-client-id cannot be empty"},
		{New(ParamMissing, "X-client-id"), "ciam", false, 400, "IDAAS.SDK.PARAM.0002", "clientId cannot be empty"},
		{New(ParamMissing, "X-client-id"), "ciam", true, 400, "IDAAS.SDK.PARAM.0002", "clientId不能为空"},
		{New(ParamMissing, "session-token"), "ciam", false, 400, "IDAAS.SDK.PARAM.0022", "Session token cannot be empty"},
		{New(ParamMissing, "user_name"), "ciam", false, 400, "IDAAS.SDK.PARAM.0001", "Parameter user_name cannot be empty"},
		{New(DeviceIncomplete), "ciam", true, 400, "IDAAS.SDK.PARAM.0001", "设备信息不完整"},
		{New(UnknownClient), "ciam", true, 400, "IDAAS.SDK.PARAM.0003", "应用未注册,请先注册应用"},
		{New(SessionInvalid), "eiam", false, 400, "SDK.COMMON.1006", "session_token parameter error"},
		{New(SessionExpired), "eiam", false, 400, "SDK.COMMON.1005", "session_token has expired"},
		{New(SessionExpired), "ciam", true, 400, "IDAAS.SDK.PARAM.0023", "会话令牌无效或已过期"},
		{New(AccountLocked, "14", "59"), "eiam", false, 400, "SDK.LOGIN.1003", "The user has been locked due to too many unsuccessful login attempts. It will be unlocked in 14 minutes and 59 seconds"},
		{Busy(errors.New("db down")), "eiam", false, 500, "SDK.COMMON.1008", "System busy, please try again later"},
		{Busy(errors.New("db down")), "ciam", true, 400, "IDAAS.SDK.COM.0002", "系统繁忙,请稍后再试"},
		{New(MFACodeInvalid), "eiam", false, 400, "SDK.LOGIN.1013", "Invalid verification code"},
		{New(MFACodeInvalid), "ciam", true, 400, "IDAAS.SDK.LOGIN.0005", "验证码错误"},
		{New(MFAUnavailable), "ciam", false, 400, "IDAAS.SDK.LOGIN.0008", "Two-factor authentication is not enabled for this tenant"},
	} {
		status, code, msg := test.err.Render(test.edition, test.zh)
		if status != test.status || code != test.code || msg != test.msg {
			t.Errorf("%v in %s zh=%v: got %d %s %q, want %d %s %q", test.err.Kind, test.edition, test.zh, status, code, msg, test.status, test.code, test.msg)
		}
	}
}

func TestWantsChinese(t *testing.T) {
	for _, test := range []struct {
		xl      string
		present bool
		def     string
		want    bool
	}{
		{"zh", true, "en", true},
		{"ZH-cn", true, "en", true},
		{"zh_CN", true, "en", true},
		{"en", true, "zh", false},
		{"fr", true, "zh", false},
		{"", true, "zh", false},
		{"", false, "zh", true},
		{"", false, "en", false},
	} {
		if got := WantsChinese(test.xl, test.present, test.def); got != test.want {
			t.Errorf("WantsChinese(%q, %v, %q) = %v, want %v", test.xl, test.present, test.def, got, test.want)
		}
	}
}

func TestWriteNeverRendersCause(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, "eiam", false, Busy(errors.New("secret-token-value")))
	if strings.Contains(rec.Body.String(), "secret-token-value") {
		t.Fatal("cause leaked into the response")
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["error_code"] != "SDK.COMMON.1008" {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
