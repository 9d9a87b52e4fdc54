// Package testdb gives integration tests a fresh, migrated PostgreSQL database that is
// dropped when the test binary's tests finish.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/dbmigrate"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// AdminURL is the server to create test databases on: TEST_DATABASE_URL, else the local
// trust-auth server every development machine has.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Create makes a new migrated database and returns its URL and a drop function.
func Create(ctx context.Context) (dbURL string, drop func(), err error) {
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s (is PostgreSQL running?): %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "omnitrackiq_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	dbURL = u.String()
	drop = func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	if err := dbmigrate.Up(dbURL); err != nil {
		drop()
		return "", nil, err
	}
	return dbURL, drop, nil
}

// New returns a Store on a fresh database dropped at the end of the test.
func New(t testing.TB) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	dbURL, drop, err := Create(ctx)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		drop()
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		drop()
	})
	return st, dbURL
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the database"
	}
	return u.Redacted()
}
