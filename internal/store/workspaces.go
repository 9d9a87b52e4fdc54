package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// Workspace is a tenant: every business row belongs to exactly one.
type Workspace struct {
	ID        string
	Name      string
	Currency  string
	Timezone  string
	CreatedAt time.Time
}

// CreateWorkspace inserts a workspace. Currency is an ISO 4217 code and timezone an IANA
// zone; both are checked here because the schema cannot check them.
func (s *Store) CreateWorkspace(ctx context.Context, name, currency, timezone string) (Workspace, error) {
	if name == "" {
		return Workspace{}, errors.New("create workspace: name is empty")
	}
	if !money.IsCurrencyCode(currency) {
		return Workspace{}, fmt.Errorf("create workspace: currency %q is not a 3-letter ISO code", currency)
	}
	if _, err := time.LoadLocation(timezone); err != nil || timezone == "" || timezone == "Local" {
		return Workspace{}, fmt.Errorf("create workspace: unknown timezone %q", timezone)
	}
	var w Workspace
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO workspaces (name, currency, timezone) VALUES ($1, $2, $3)
		RETURNING id, name, currency, timezone, created_at`, name, currency, timezone).
		Scan(&w.ID, &w.Name, &w.Currency, &w.Timezone, &w.CreatedAt)
	if err != nil {
		return Workspace{}, fmt.Errorf("create workspace %q: %w", name, err)
	}
	return w, nil
}

// GetWorkspace loads a workspace; a malformed or unknown id is ErrNotFound.
func (s *Store) GetWorkspace(ctx context.Context, id string) (Workspace, error) {
	if !isUUID(id) {
		return Workspace{}, ErrNotFound
	}
	var w Workspace
	err := s.Pool.QueryRow(ctx, `SELECT id, name, currency, timezone, created_at FROM workspaces WHERE id = $1`, id).
		Scan(&w.ID, &w.Name, &w.Currency, &w.Timezone, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, ErrNotFound
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("load workspace %s: %w", id, err)
	}
	return w, nil
}
