package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	w1, err := st.CreateWorkspace(ctx, "One", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := st.CreateWorkspace(ctx, "Two", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	h1 := sha256.Sum256([]byte("key one"))
	h2 := sha256.Sum256([]byte("key two"))

	k1, err := st.CreateAPIKey(ctx, w1.ID, "ci", "otq_keyone00", h1[:])
	if err != nil {
		t.Fatal(err)
	}
	if k1.WorkspaceID != w1.ID || k1.Name != "ci" || k1.Prefix != "otq_keyone00" || k1.LastUsedAt != nil || k1.RevokedAt != nil {
		t.Fatalf("created %+v", k1)
	}
	if _, err := st.CreateAPIKey(ctx, w2.ID, "", "otq_keytwo00", h2[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIKey(ctx, w2.ID, "dup", "otq_keyone00", h1[:]); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate hash: %v, want ErrConflict", err)
	}
	if _, err := st.CreateAPIKey(ctx, "00000000-0000-0000-0000-000000000000", "", "p", []byte{1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown workspace: %v, want ErrNotFound", err)
	}

	ws, err := st.WorkspaceForAPIKeyHash(ctx, h1[:])
	if err != nil || ws != w1.ID {
		t.Fatalf("key one -> %q, %v; want %s", ws, err, w1.ID)
	}
	ws, err = st.WorkspaceForAPIKeyHash(ctx, h2[:])
	if err != nil || ws != w2.ID {
		t.Fatalf("key two -> %q, %v; want %s", ws, err, w2.ID)
	}
	unknown := sha256.Sum256([]byte("nobody"))
	if _, err := st.WorkspaceForAPIKeyHash(ctx, unknown[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}

	// The first use is recorded; a second use within a minute does not write again.
	first := lastUsed(t, st, k1.ID)
	if first == nil {
		t.Fatal("last_used_at not set on first use")
	}
	if _, err := st.WorkspaceForAPIKeyHash(ctx, h1[:]); err != nil {
		t.Fatal(err)
	}
	if again := lastUsed(t, st, k1.ID); !again.Equal(*first) {
		t.Fatalf("last_used_at moved from %v to %v within a minute", first, again)
	}
	// A use more than a minute after the last recorded one is recorded.
	if _, err := st.Pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, k1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WorkspaceForAPIKeyHash(ctx, h1[:]); err != nil {
		t.Fatal(err)
	}
	if later := lastUsed(t, st, k1.ID); time.Since(*later) > 30*time.Second {
		t.Fatalf("last_used_at %v not refreshed after a minute", later)
	}

	// Another workspace cannot revoke the key; its own can, and then it stops working.
	if err := st.RevokeAPIKey(ctx, w2.ID, k1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke from other workspace: %v, want ErrNotFound", err)
	}
	if err := st.RevokeAPIKey(ctx, w1.ID, k1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WorkspaceForAPIKeyHash(ctx, h1[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked key: %v, want ErrNotFound", err)
	}
	keys, err := st.ListAPIKeys(ctx, w1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Fatalf("ListAPIKeys = %+v, want one revoked key", keys)
	}
}

func lastUsed(t *testing.T, st *store.Store, id string) *time.Time {
	t.Helper()
	var at *time.Time
	if err := st.Pool.QueryRow(context.Background(), `SELECT last_used_at FROM api_keys WHERE id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}
