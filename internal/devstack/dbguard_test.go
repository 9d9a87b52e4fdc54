package devstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/config"
)

func TestCheckLocalDatabase(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		pghost string
		local  bool
	}{
		{"remote host", "postgres://u@db.example.com/x", "", false},
		{"remote with password", "postgres://u:secret-pw@db.example.com:5432/x?sslmode=require", "", false},
		{"private address is still another machine", "postgres://u@10.0.0.7:5432/x", "", false},
		{"a local name among remote fallbacks", "postgres://u@localhost,db.example.com/x", "", false},
		{"remote host in keyword form", "host=db.example.com user=u dbname=x", "", false},
		{"PGHOST picks a remote host", "postgres:///x", "db.example.com", false},
		{"loopback address", "postgres://postgres@127.0.0.1:5432/x", "", true},
		{"other loopback address", "postgres://postgres@127.0.0.2:5432/x", "", true},
		{"IPv6 loopback", "postgres://postgres@[::1]:5432/x", "", true},
		{"localhost", "postgres://postgres@LocalHost:5432/x?sslmode=disable", "", true},
		{"unix socket in the query", "postgres:///x?host=/var/run/postgresql", "", true},
		{"unix socket in keyword form", "host=/tmp dbname=x", "", true},
		{"no host at all: the default socket or localhost", "postgres:///x", "", true},
		{"local fallbacks", "postgres://u@127.0.0.1,localhost/x", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PGHOST", tt.pghost)
			err := CheckLocalDatabase(tt.url)
			if tt.local {
				if err != nil {
					t.Fatalf("refused a local database: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted a database on another machine")
			}
			if !strings.Contains(err.Error(), EnvAllowRemoteDatabase+"=true") {
				t.Errorf("error does not say how to override: %v", err)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error carries the database password: %v", err)
			}
		})
	}
	if err := CheckLocalDatabase("postgres://u@db.example.com/x?sslmode=bogus"); err == nil || !strings.Contains(err.Error(), "parse DATABASE_URL") {
		t.Errorf("unparsable URL: %v", err)
	}
}

// `dev` against a database on another machine stops before it creates or starts anything;
// told explicitly, it goes on (here to the next step, which fails on the missing binary).
func TestRunRefusesRemoteDatabase(t *testing.T) {
	remote := "postgres://postgres:pw@db.example.com:5432/omnitrackiq"
	// With no Temporal address and no Temporal binary, an allowed run stops at the first
	// step after the guard and starts nothing.
	run := func(t *testing.T, allow bool) (string, error) {
		dir := filepath.Join(t.TempDir(), "dev")
		err := Run(context.Background(), Options{
			Config: config.Config{DatabaseURL: remote}, Logger: slog.New(slog.DiscardHandler), Out: io.Discard,
			TemporalBin: filepath.Join(t.TempDir(), "no-temporal"), DataDir: dir, AllowRemoteDatabase: allow,
		})
		return dir, err
	}
	tests := []struct {
		name    string
		env     string
		allow   bool
		refused bool
	}{
		{"refused by default", "", false, true},
		{"refused when the variable says false", "false", false, true},
		{"allowed by the variable", "true", false, false},
		{"allowed by the option", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvAllowRemoteDatabase, tt.env)
			dir, err := run(t, tt.allow)
			if err == nil {
				t.Fatal("Run returned nil")
			}
			refused := strings.Contains(err.Error(), "not this machine")
			if refused != tt.refused {
				t.Fatalf("refused = %t, want %t (err: %v)", refused, tt.refused, err)
			}
			_, statErr := os.Stat(dir)
			if tt.refused && !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("a refused run created %s (stat: %v)", dir, statErr)
			}
		})
	}
	t.Run("a bad value is an error", func(t *testing.T) {
		t.Setenv(EnvAllowRemoteDatabase, "yes please")
		if _, err := run(t, false); err == nil || !strings.Contains(err.Error(), EnvAllowRemoteDatabase) {
			t.Errorf("err = %v", err)
		}
	})
}
