// Package kittest holds test helpers for the sandboxes' admin endpoints.
package kittest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Admin serves one admin request on a sandbox handler, without a network, and fails the test
// unless it answers 200. It returns the body.
func Admin(t testing.TB, h http.Handler, method, path, body string) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	if w.Code != http.StatusOK {
		t.Fatalf("%s %s %s: %d %s", method, path, body, w.Code, w.Body)
	}
	return w.Body.String()
}

// Consent POSTs decision ("approve" or "deny") to a consent URL, as the Approve and Deny
// buttons of the consent page do, and returns the callback URL the sandbox redirects to. It
// fails the test unless the answer is 303 See Other.
func Consent(t testing.TB, consentURL, decision string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(consentURL, url.Values{"decision": {decision}})
	if err != nil {
		t.Fatalf("consent %s: %v", decision, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent %s: %d %s", decision, resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("consent %s: Location: %v", decision, err)
	}
	return loc
}
