package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswerBytes bounds what is read of an answer.
const maxAnswerBytes = 1 << 20

// transport sends requests to one base URL and retries "system busy"
// answers. It is shared by Client, TenantClient and Verifier.
type transport struct {
	hc        *http.Client
	base      string // scheme://host[:port][/path], no trailing slash
	host      string // Host header override
	tenantID  string
	language  string
	attempts  int
	baseDelay time.Duration
}

func newTransport(rawURL string, s settings) (*transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sesame: bad URL %q: %w", rawURL, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("sesame: bad URL %q: want http(s)://host[:port][/path]", rawURL)
	}
	return &transport{
		hc:        s.httpClient,
		base:      strings.TrimRight(u.String(), "/"),
		host:      s.host,
		tenantID:  s.tenantID,
		language:  s.language,
		attempts:  s.attempts,
		baseDelay: s.baseDelay,
	}, nil
}

// request is one API call.
type request struct {
	method string
	path   string
	header http.Header
	// body is sent with contentType.
	body        []byte
	contentType string
	// idempotent marks calls that may be repeated after a lost answer (a
	// transport error, a gateway's 502/503/504) because a repetition
	// cannot apply anything twice. Every call, idempotent or not, is
	// repeated after a "system busy" answer: the server gives it only when
	// it did not complete the call.
	idempotent bool
	// subject is the token the call is about (see Error.subject).
	subject string
	// sign, when set, adds headers that must differ on every attempt
	// (a signature with a fresh nonce); it is called before each one.
	sign func(http.Header) error
}

func jsonRequest(method, path string, v any) request {
	b, _ := json.Marshal(v) // the values sent are plain structs and maps of strings
	return request{method: method, path: path, body: b, contentType: "application/json"}
}

// do sends req, retrying as the policy allows, and decodes a 200 answer's
// JSON body into out (when out is not nil).
func (t *transport) do(ctx context.Context, req request, out any) error {
	for attempt := 1; ; attempt++ {
		retry, err := t.once(ctx, req, out)
		if err == nil || !retry || attempt >= t.attempts || ctx.Err() != nil {
			return err
		}
		if werr := sleep(ctx, backoff(t.baseDelay, attempt)); werr != nil {
			return werr
		}
	}
}

// once sends req once. retry tells whether the failure may be retried.
func (t *transport) once(ctx context.Context, req request, out any) (retry bool, err error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, t.base+req.path, body)
	if err != nil {
		return false, fmt.Errorf("sesame: %w", err)
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if req.sign != nil {
		if err := req.sign(hr.Header); err != nil {
			return false, err
		}
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", userAgent)
	if t.tenantID != "" {
		hr.Header.Set("X-tenant-id", t.tenantID)
	}
	if t.language != "" {
		hr.Header.Set("X-L", t.language)
	}
	if t.host != "" {
		hr.Host = t.host
	}
	resp, err := t.hc.Do(hr)
	if err != nil {
		// Whether the server acted on the request is unknown.
		return req.idempotent, fmt.Errorf("sesame: %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return req.idempotent, fmt.Errorf("sesame: %s %s: reading the answer: %w", req.method, req.path, err)
	}
	if resp.StatusCode == http.StatusOK {
		if out != nil && len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return false, fmt.Errorf("sesame: %s %s: the answer is not the expected JSON: %w", req.method, req.path, err)
			}
		}
		return false, nil
	}
	var eb errorBody
	ok := json.Unmarshal(b, &eb) == nil
	e := newError(resp.StatusCode, eb, ok, req.subject)
	switch {
	case errors.Is(e, ErrSystemBusy):
		return true, e
	case e.Code == "" && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout):
		// Not Sesame's answer but a proxy's: the request may or may not
		// have reached the server.
		return req.idempotent, e
	}
	return false, e
}

// backoff is the pause before attempt+1: exponential from base, capped,
// with "equal jitter" (half fixed, half random) so that clients that
// failed together do not retry together.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
