package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestWorkspaces(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)

	w, err := st.CreateWorkspace(ctx, "Acme", "EUR", "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if w.ID == "" || w.Name != "Acme" || w.Currency != "EUR" || w.Timezone != "Europe/Paris" || w.CreatedAt.IsZero() {
		t.Fatalf("created %+v", w)
	}
	got, err := st.GetWorkspace(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != w {
		t.Fatalf("GetWorkspace = %+v, want %+v", got, w)
	}
	for _, id := range []string{"", "nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := st.GetWorkspace(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetWorkspace(%q) = %v, want ErrNotFound", id, err)
		}
	}

	bad := []struct{ name, currency, timezone string }{
		{"", "USD", "UTC"},
		{"x", "usd", "UTC"},
		{"x", "US", "UTC"},
		{"x", "USD", "Mars/Olympus"},
		{"x", "USD", ""},
		{"x", "USD", "Local"},
	}
	for _, b := range bad {
		if _, err := st.CreateWorkspace(ctx, b.name, b.currency, b.timezone); err == nil {
			t.Errorf("CreateWorkspace(%q, %q, %q) succeeded", b.name, b.currency, b.timezone)
		}
	}
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM workspaces`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d workspaces, want 1: a rejected workspace was written", n)
	}
}
