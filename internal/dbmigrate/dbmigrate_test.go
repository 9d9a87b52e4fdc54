package dbmigrate_test

import (
	"context"
	"slices"
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

// TestForeignKeysAreIndexed: every foreign key has an index that starts with its columns,
// so that deleting a connection or a workspace, which cascades, finds the rows to delete
// by index instead of scanning each referencing table. It holds after up, and after down
// to version 4 and up again (0006 adds the indexes).
func TestForeignKeysAreIndexed(t *testing.T) {
	ctx := context.Background()
	dbURL, drop, err := testdb.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	unindexed := func() []string {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		// A key's columns are covered when an index's leading columns are the same set.
		rows, err := conn.Query(ctx, `
			SELECT c.conrelid::regclass::text || ' ' || c.conname
			FROM pg_constraint c
			WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
				AND NOT EXISTS (
					SELECT 1 FROM pg_index i
					WHERE i.indrelid = c.conrelid
						AND (SELECT array_agg(k ORDER BY k) FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) k)
							= (SELECT array_agg(k ORDER BY k) FROM unnest(c.conkey) k))
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if u := unindexed(); len(u) != 0 {
		t.Errorf("foreign keys without an index after up: %v", u)
	}
	m, err := dbmigrate.New(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Version 4 is before the indexes of 0006: its down must have dropped them.
	if err := m.Migrate(4); err != nil {
		t.Fatalf("down to version 4: %v", err)
	}
	if u := unindexed(); !slices.Contains(u, "orders orders_connection_id_fkey") {
		t.Errorf("at version 4, unindexed foreign keys %v: the indexes' down does not drop them", u)
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if u := unindexed(); len(u) != 0 {
		t.Errorf("foreign keys without an index after up again: %v", u)
	}
}
