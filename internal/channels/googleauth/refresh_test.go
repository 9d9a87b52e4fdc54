package googleauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRefreshThroughOAuth2(t *testing.T) {
	answer := `{"access_token":"ya29.new","expires_in":3599,"token_type":"Bearer"}`
	status := 200
	var form map[string][]string
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form, ua = r.PostForm, r.UserAgent()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, answer)
	}))
	defer srv.Close()
	ctx := context.Background()

	// Google's refresh answers carry no refresh_token: the old one is kept.
	tok, err := Refresh(ctx, srv.Client(), srv.URL, "otq-test/1", "cid", "csecret", "1//old")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "ya29.new" || tok.RefreshToken != "1//old" || tok.ExpiresIn != 3599 {
		t.Fatalf("token %+v", tok)
	}
	want := map[string]string{"grant_type": "refresh_token", "refresh_token": "1//old", "client_id": "cid", "client_secret": "csecret"}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("form %s = %v, want %s", k, got, v)
		}
	}
	if ua != "otq-test/1" {
		t.Errorf("User-Agent %q", ua)
	}
	// One that does carry a refresh token replaces it.
	answer = `{"access_token":"ya29.new2","expires_in":3599,"refresh_token":"1//rotated","token_type":"Bearer"}`
	if tok, err = Refresh(ctx, srv.Client(), srv.URL, "ua", "cid", "cs", "1//old"); err != nil || tok.RefreshToken != "1//rotated" {
		t.Fatalf("rotated: %+v, %v", tok, err)
	}

	// Error answers come back whole for the connector to classify.
	status, answer = 400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`
	_, err = Refresh(ctx, srv.Client(), srv.URL, "ua", "cid", "cs", "1//old")
	if st, _, body, ok := AsRetrieveError(err); !ok || st != 400 || string(body) != answer || IsTransport(err) {
		t.Fatalf("400: %v", err)
	}
	if code, msg := ErrorResponse(400, []byte(answer)); code != "invalid_grant" || msg != "token endpoint: invalid_grant: Token has been expired or revoked." {
		t.Fatalf("ErrorResponse = %q, %q", code, msg)
	}
	// A 2xx answer without a token is neither.
	status, answer = 200, `{"expires_in":3599}`
	if _, err = Refresh(ctx, srv.Client(), srv.URL, "ua", "cid", "cs", "1//old"); err == nil || IsTransport(err) {
		t.Fatalf("no access token: %v", err)
	} else if _, _, _, ok := AsRetrieveError(err); ok {
		t.Fatalf("no access token is a RetrieveError: %v", err)
	}
	// An unreachable endpoint is a transport failure.
	srv.Close()
	if _, err = Refresh(ctx, nil, srv.URL, "ua", "cid", "cs", "1//old"); !IsTransport(err) {
		t.Fatalf("closed server: %v", err)
	}
}
