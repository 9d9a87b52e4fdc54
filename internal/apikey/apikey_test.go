package apikey_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestGenerate(t *testing.T) {
	a, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if a.Secret == b.Secret {
		t.Fatal("two keys are equal")
	}
	if !strings.HasPrefix(a.Secret, "otq_") || len(a.Secret) != 4+43 {
		t.Fatalf("key %q: want otq_ and 43 base64url characters", a.Secret)
	}
	if a.Prefix != a.Secret[:12] {
		t.Fatalf("prefix %q, want first 12 characters of the key", a.Prefix)
	}
	if !bytes.Equal(a.Hash, apikey.Hash(a.Secret)) || len(a.Hash) != 32 {
		t.Fatalf("hash is not the SHA-256 of the key")
	}
	if !apikey.WellFormed(a.Secret) {
		t.Fatalf("generated key %q is not well formed", a.Secret)
	}
}

func TestWellFormed(t *testing.T) {
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"",
		"otq_",
		k.Secret[:len(k.Secret)-1],
		k.Secret + "A",
		"xyz_" + k.Secret[4:],
		k.Secret[:10] + "+" + k.Secret[11:],
		k.Secret[:10] + "=" + k.Secret[11:],
	} {
		if apikey.WellFormed(s) {
			t.Errorf("WellFormed(%q) = true", s)
		}
	}
}

func TestIssue(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Acme", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	secret, rec, err := apikey.Issue(ctx, st, ws.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Prefix != secret[:12] || rec.WorkspaceID != ws.ID || rec.Name != "ci" {
		t.Fatalf("stored key %+v does not match secret", rec)
	}
	got, err := st.WorkspaceForAPIKeyHash(ctx, apikey.Hash(secret))
	if err != nil || got != ws.ID {
		t.Fatalf("WorkspaceForAPIKeyHash = %q, %v; want %s", got, err, ws.ID)
	}
	var stored []byte
	if err := st.Pool.QueryRow(ctx, `SELECT key_hash FROM api_keys WHERE id = $1`, rec.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(secret)) || !bytes.Equal(stored, apikey.Hash(secret)) {
		t.Fatal("the database must hold the SHA-256 of the key, not the key")
	}
	if _, _, err := apikey.Issue(ctx, st, "00000000-0000-0000-0000-000000000000", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("issue for unknown workspace: %v, want ErrNotFound", err)
	}
}
