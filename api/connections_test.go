package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
)

func TestCreateConnection(t *testing.T) {
	e := newEnv(t)
	rec := e.do("POST", "/v1/connections", e.key1,
		`{"channel":"meta","account_id":"act_123","access_token":"`+goodToken+`"}`)
	var c api.Connection
	decode(t, rec, http.StatusCreated, &c)
	want := api.Connection{ID: c.ID, Channel: "meta", AccountID: "123", DisplayName: "Acme Ads 123",
		Status: "active", Timezone: "Europe/Paris", Currency: "EUR", CreatedAt: c.CreatedAt}
	if c != want || c.ID == "" || c.CreatedAt.IsZero() {
		t.Fatalf("created %+v, want %+v", c, want)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/connections/"+c.ID {
		t.Fatalf("Location %q", loc)
	}
	if body := rec.Body.String(); strings.Contains(body, "token") || strings.Contains(body, "cipher") {
		t.Fatalf("response mentions the token: %s", body)
	}

	// The token is stored sealed, bound to its workspace, channel and account.
	var sealed []byte
	if err := e.st.Pool.QueryRow(context.Background(),
		`SELECT token_ciphertext FROM connections WHERE id = $1`, c.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(goodToken)) {
		t.Fatal("token stored in plaintext")
	}
	plain, err := e.box.Open(sealed, secretbox.ConnectionTokenAAD(e.w1.ID, "meta", "123"))
	if err != nil || string(plain) != goodToken {
		t.Fatalf("open sealed token: %q, %v", plain, err)
	}
	if _, err := e.box.Open(sealed, secretbox.ConnectionTokenAAD(e.w2.ID, "meta", "123")); err == nil {
		t.Fatal("sealed token opens with another workspace's additional data")
	}
	if got := e.syncs.schedules[c.ID]; got.Timezone != "Europe/Paris" {
		t.Fatalf("schedule not ensured in the account's zone: %+v", got)
	}

	// Reads: list, get, and 404 for other workspaces and non-ids.
	var list api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key1, ""), http.StatusOK, &list)
	if len(list.Connections) != 1 || list.Connections[0] != c {
		t.Fatalf("list = %+v", list)
	}
	var got api.Connection
	decode(t, e.do("GET", "/v1/connections/"+c.ID, e.key1, ""), http.StatusOK, &got)
	if got != c {
		t.Fatalf("get = %+v, want %+v", got, c)
	}
	var other api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key2, ""), http.StatusOK, &other)
	if len(other.Connections) != 0 {
		t.Fatalf("workspace two sees %+v", other)
	}
	for _, path := range []string{
		"/v1/connections/" + c.ID,
		"/v1/connections/not-a-uuid",
		"/v1/connections/00000000-0000-0000-0000-000000000000",
	} {
		problem(t, e.do("GET", path, e.key2, ""), http.StatusNotFound)
	}

	// The same account may be connected by another workspace; "123" equals "act_123".
	e.connect(e.key2, "123")
}

func TestCreateConnectionRejects(t *testing.T) {
	e := newEnv(t)
	existing := e.connect(e.key1, "777")
	body := func(channel, account, token string) string {
		return fmt.Sprintf(`{"channel":%q,"account_id":%q,"access_token":%q}`, channel, account, token)
	}
	cases := []struct {
		name   string
		body   string
		status int
		field  string // the validation error's field, if any
		detail string // a substring of the detail
	}{
		{"empty body", "", 400, "", "JSON object"},
		{"malformed JSON", `{"channel":`, 400, "", "JSON"},
		{"not an object", `["meta"]`, 400, "", "JSON object"},
		{"wrong type", `{"channel":1}`, 400, "", "channel"},
		{"unknown field", `{"channel":"meta","account_id":"1","access_token":"x","scope":"all"}`, 400, "", `unknown field "scope"`},
		{"trailing data", body("meta", "1", goodToken) + `{}`, 400, "", "after the JSON object"},
		{"too large", `{"channel":"meta","account_id":"1","access_token":"` + strings.Repeat("a", 20<<10) + `"}`, 413, "", "larger"},
		{"missing channel", body("", "1", goodToken), 422, "channel", ""},
		{"unknown channel", body("myspace", "1", goodToken), 422, "channel", ""},
		{"channel not supported yet", body("google_ads", "1", goodToken), 422, "channel", ""},
		{"missing account", body("meta", "", goodToken), 422, "account_id", ""},
		{"act_ only", body("meta", "act_", goodToken), 422, "account_id", ""},
		{"non-digit account", body("meta", "act_12x", goodToken), 422, "account_id", ""},
		{"missing token", body("meta", "1", ""), 422, "access_token", ""},
		{"blank token", body("meta", "1", "   "), 422, "access_token", ""},
		{"token of 4 KiB", body("meta", "1", strings.Repeat("a", 4096)), 422, "access_token", ""},
		{"token with newline", body("meta", "1", "abc\ndef"), 422, "access_token", ""},
		{"expired token", body("meta", "1", expiredToken), 422, "", "the provider rejected the access token: "},
		{"unknown account", body("meta", "act_999", badRequestToken), 422, "", "does not exist"},
		{"rate limited", body("meta", "1", rateLimitedToken), 503, "", "retry in 90 seconds"},
		{"provider down", body("meta", "1", transientToken), 503, "", "retry"},
		{"reader failed", body("meta", "1", brokenToken), 503, "", "unavailable"},
		{"duplicate", body("meta", "act_777", goodToken), 409, "", "already connected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				rec := e.do("POST", "/v1/connections", e.key1, tc.body)
				p := problem(t, rec, tc.status)
				if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
					t.Errorf("errors %+v, want one on %q", p.Errors, tc.field)
				}
				if !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
				}
				if tc.status == 503 && rec.Header().Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			})
		})
	}
	t.Run("expired token is scrubbed from the provider message", func(t *testing.T) {
		p := problem(t, e.do("POST", "/v1/connections", e.key1, body("meta", "1", expiredToken)), 422)
		if !strings.Contains(p.Detail, "[redacted]") {
			t.Fatalf("detail %q", p.Detail)
		}
	})

	// A schedule that cannot be created undoes the connection.
	t.Run("schedule failure", func(t *testing.T) {
		e.syncs.ensureErr = errors.New("temporal: deadline exceeded")
		defer func() { e.syncs.ensureErr = nil }()
		before := e.rowCounts()
		p := problem(t, e.do("POST", "/v1/connections", e.key1, body("meta", "888", goodToken)), 503)
		if strings.Contains(p.Detail, "deadline") {
			t.Errorf("detail leaks the cause: %q", p.Detail)
		}
		if after := e.rowCounts(); after["connections"] != before["connections"] {
			t.Fatalf("connection left behind: %d -> %d", before["connections"], after["connections"])
		}
	})

	var list api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key1, ""), http.StatusOK, &list)
	if len(list.Connections) != 1 || list.Connections[0].ID != existing.ID {
		t.Fatalf("connections after rejects: %+v", list)
	}
}
