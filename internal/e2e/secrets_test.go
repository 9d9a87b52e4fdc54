package e2e

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// logBuffer collects log lines from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// assertNoPlaintext scans every text, bytea, json and array column of every table in the
// database, and the logs, for each secret: none may appear as written.
func (e *env) assertNoPlaintext(t *testing.T, secrets map[string]string, logs string) {
	t.Helper()
	rows, err := e.Store.Pool.Query(e.ctx, `
		SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'jsonb', 'json', 'ARRAY', 'character varying', 'character')
		ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) < 20 {
		t.Fatalf("found only %d columns to scan", len(cols))
	}
	for name, secret := range secrets {
		if len(secret) < 8 {
			t.Fatalf("secret %s is too short to scan for: %q", name, secret)
		}
		for _, c := range cols {
			ident := pgx.Identifier{c.table}.Sanitize() + "." + pgx.Identifier{c.column}.Sanitize()
			cond := "position($1 in " + ident + "::text) > 0"
			if c.typ == "bytea" {
				cond = "position(convert_to($1, 'UTF8') in " + ident + ") > 0"
			}
			var n int
			if err := e.Store.Pool.QueryRow(e.ctx, "SELECT count(*) FROM "+pgx.Identifier{c.table}.Sanitize()+" WHERE "+cond, secret).Scan(&n); err != nil {
				t.Fatalf("scan %s: %v", ident, err)
			}
			if n > 0 {
				t.Errorf("%s appears in plaintext in %s (%d rows)", name, ident, n)
			}
		}
		if strings.Contains(logs, secret) {
			t.Errorf("%s appears in the logs", name)
		}
	}
}
