package dbmigrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/dbmigrate"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// TestDownAndUpAgain checks that every migration has a working down: all the way down
// leaves no table behind, and up again recreates the schema.
func TestDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	dbURL, drop, err := testdb.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	tables := func() int {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	up := tables()
	if up < 5 {
		t.Fatalf("after up: %d tables", up)
	}
	m, err := dbmigrate.New(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	m.Close()
	if n := tables(); n != 0 {
		t.Fatalf("after down: %d tables remain", n)
	}
	if err := dbmigrate.Up(dbURL); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if n := tables(); n != up {
		t.Fatalf("after up again: %d tables, want %d", n, up)
	}
}
