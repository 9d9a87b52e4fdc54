package testdb

import (
	"context"
	"testing"
)

func TestCreateMigratesSchema(t *testing.T) {
	st, _ := New(t)
	var n int
	err := st.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
		 AND table_name IN ('workspaces','api_keys','connections','ad_metrics_daily','sync_runs')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("got %d core tables, want 5", n)
	}
}
