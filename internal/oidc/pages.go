package oidc

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/sesame-idp/sesame/internal/store"
)

//go:embed templates/pages.html
var templateFS embed.FS

// pages are parsed once; html/template escapes every value by context.
var pages = template.Must(template.ParseFS(templateFS, "templates/pages.html"))

// texts holds every string of the hosted pages in English and Chinese
// (contract §5). TestTextsComplete checks both languages have every key.
var texts = map[string]map[string]string{
	"en": {
		"title":        "Sign in",
		"signin":       "Sign in",
		"username":     "User name, e-mail or mobile",
		"password":     "Password",
		"warn":         "Your password expires soon",
		"expired":      "Your password has expired",
		"policy":       "Choose a new password. Minimum length:",
		"newpassword":  "New password",
		"change":       "Change password",
		"skip":         "Not now",
		"continue":     "Continue",
		"error":        "Something went wrong",
		"badrequest":   "This sign-in request is not valid. Return to the application and try again.",
		"staleform":    "This sign-in page has expired. Please sign in again.",
		"csrf":         "The form could not be verified. Reload the page and try again.",
		"busy":         "The service is busy. Please try again in a moment.",
		"signedout":    "You have been signed out.",
		"signedoutttl": "Signed out",
		"badlogout":    "You have been signed out, but the address to return to is not registered for the application.",
		// Second factor (TOTP).
		"mfatitle":      "Two-step verification",
		"mfaprompt":     "Enter the 6-digit code from your authenticator app, or one of your recovery codes.",
		"mfacode":       "Verification code or recovery code",
		"verify":        "Verify",
		"enroltitle":    "Set up two-step verification",
		"enrolprompt":   "Add this account to an authenticator app (such as Google Authenticator or Microsoft Authenticator): enter the key below, or open the link on the device with the app. Then enter the 6-digit code the app shows.",
		"enrolkey":      "Key",
		"enrollink":     "Open in the authenticator app",
		"enrolcode":     "Code from the app",
		"recoverytitle": "Save your recovery codes",
		"recoverynote":  "Each code signs you in once if you lose your authenticator. Keep them somewhere safe: they are shown only now.",
	},
	"zh": {
		"title":         "登录",
		"signin":        "登录",
		"username":      "用户名、邮箱或手机号",
		"password":      "密码",
		"warn":          "您的密码即将过期",
		"expired":       "您的密码已过期",
		"policy":        "请设置新密码。最小长度:",
		"newpassword":   "新密码",
		"change":        "修改密码",
		"skip":          "暂不修改",
		"continue":      "继续",
		"error":         "出现错误",
		"badrequest":    "登录请求无效。请返回应用后重试。",
		"staleform":     "登录页面已过期,请重新登录。",
		"csrf":          "无法验证表单。请刷新页面后重试。",
		"busy":          "系统繁忙,请稍后再试",
		"signedout":     "您已退出登录。",
		"signedoutttl":  "已退出",
		"badlogout":     "您已退出登录,但要返回的地址未在应用中注册。",
		"mfatitle":      "两步验证",
		"mfaprompt":     "请输入身份验证器应用中显示的 6 位验证码,或一个恢复码。",
		"mfacode":       "验证码或恢复码",
		"verify":        "验证",
		"enroltitle":    "设置两步验证",
		"enrolprompt":   "请将此账号添加到身份验证器应用(如 Google Authenticator 或 Microsoft Authenticator):输入下面的密钥,或在装有该应用的设备上打开链接。然后输入应用显示的 6 位验证码。",
		"enrolkey":      "密钥",
		"enrollink":     "在身份验证器应用中打开",
		"enrolcode":     "应用中的验证码",
		"recoverytitle": "保存您的恢复码",
		"recoverynote":  "如果丢失身份验证器,每个恢复码可用于登录一次。请妥善保存:恢复码仅显示这一次。",
	},
}

// pageData is what every template gets.
type pageData struct {
	Lang  string
	T     map[string]string
	Nonce string

	AppName, Error, CSRF, Request, LoginHint string

	Expired    bool
	MinLength  int
	StateToken string

	// Second factor: the secret of an enrolment (grouped for reading),
	// its otpauth:// URI, and the recovery codes of a confirmed one.
	EnrolSecret   string
	EnrolURI      template.URL
	RecoveryCodes []string

	Heading, Message string

	Action string
	Fields []formField
}

type formField struct{ Name, Value string }

// language picks the page language (contract §5): ui_locales first, then
// Accept-Language, then the tenant's default.
func language(uiLocales string, r *http.Request, t store.Tenant) string {
	for _, tag := range strings.Fields(uiLocales) {
		if l := baseLanguage(tag); l != "" {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := baseLanguage(tag); l != "" {
			return l
		}
	}
	if t.DefaultLanguage == "zh" {
		return "zh"
	}
	return "en"
}

func baseLanguage(tag string) string {
	tag = strings.ToLower(tag)
	switch {
	case tag == "zh" || strings.HasPrefix(tag, "zh-") || strings.HasPrefix(tag, "zh_"):
		return "zh"
	case tag == "en" || strings.HasPrefix(tag, "en-") || strings.HasPrefix(tag, "en_"):
		return "en"
	}
	return ""
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// render writes a page with the headers every Sesame page carries: no
// caching, no framing (clickjacking), no referrer to other origins, and a
// CSP that allows only the page's own nonce'd style and script, and form
// posts to formTargets besides the page's own origin.
//
// formTargets must include where a form post ends up after redirects:
// browsers apply form-action to the redirect that answers a form post, so
// the login page must allow the client's redirect URI.
//
// Referrer-Policy is same-origin, not no-referrer: with no-referrer,
// Chromium sends "Origin: null" on the form post, which same-origin checks
// (http.CrossOriginProtection) must refuse.
func (p *Provider) render(w http.ResponseWriter, status int, name string, d pageData, formTargets ...string) {
	d.T = texts[d.Lang]
	if d.T == nil {
		d.Lang, d.T = "en", texts["en"]
	}
	d.Nonce = newNonce()
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		p.Logger.Error("rendering page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	for _, t := range formTargets {
		u, err := url.Parse(t)
		switch {
		case err != nil || u.Scheme == "":
		case u.Host != "":
			formAction += " " + u.Scheme + "://" + u.Host
		default:
			// A native app's private-use scheme (RFC 8252 §7.1): a CSP
			// scheme-source.
			formAction += " " + u.Scheme + ":"
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; script-src 'nonce-"+d.Nonce+"'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page that only says something (errors, signed out).
func (p *Provider) message(w http.ResponseWriter, status int, lang, heading, msg string) {
	t := texts[lang]
	if t == nil {
		lang, t = "en", texts["en"]
	}
	p.render(w, status, "message", pageData{Lang: lang, Heading: t[heading], Message: t[msg]})
}
