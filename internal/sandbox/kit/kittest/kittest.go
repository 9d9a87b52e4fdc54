// Package kittest holds test helpers for the sandboxes' admin endpoints.
package kittest

import (
	"net/http"
	"net/http/httptest"
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
