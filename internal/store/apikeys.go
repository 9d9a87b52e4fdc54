package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// APIKey is an API key's metadata. The secret itself is never stored, only its SHA-256.
type APIKey struct {
	ID          string
	WorkspaceID string
	Name        string
	// Prefix is the key's first characters, shown so people can tell keys apart.
	Prefix string
	// Scope is "read" or "write"; keys made before scopes existed are "write".
	Scope string
	// CreatedBy is the user who created the key; "" for seeded keys or a deleted user.
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

const apiKeyColumns = `id, workspace_id, name, prefix, scope, coalesce(created_by::text, ''), created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &k.Scope, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	return k, err
}

// CreateAPIKey stores a write-scoped key's hash for the workspace. A hash that already
// exists (which only a broken random source could produce) returns ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, workspaceID, name, prefix string, hash []byte) (APIKey, error) {
	return s.CreateScopedAPIKey(ctx, NewAPIKey{WorkspaceID: workspaceID, Name: name, Prefix: prefix, Hash: hash})
}

// NewAPIKey is a key to store.
type NewAPIKey struct {
	WorkspaceID, Name, Prefix string
	// Scope is "read" or "write"; "" is "write".
	Scope string
	// CreatedBy is the creating user's id, "" for none (seed, CLI).
	CreatedBy string
	Hash      []byte
}

// CreateScopedAPIKey stores a key with its scope and creator (see CreateAPIKey).
func (s *Store) CreateScopedAPIKey(ctx context.Context, n NewAPIKey) (APIKey, error) {
	workspaceID, name, prefix, hash := n.WorkspaceID, n.Name, n.Prefix, n.Hash
	scope := n.Scope
	if scope == "" {
		scope = "write"
	}
	if n.CreatedBy != "" && !isUUID(n.CreatedBy) {
		return APIKey{}, fmt.Errorf("create api key: creator %q: %w", n.CreatedBy, ErrNotFound)
	}
	if len(hash) == 0 {
		return APIKey{}, errors.New("create api key: empty hash")
	}
	if !isUUID(workspaceID) {
		return APIKey{}, fmt.Errorf("create api key: workspace %q: %w", workspaceID, ErrNotFound)
	}
	k, err := scanAPIKey(s.Pool.QueryRow(ctx, `
		INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scope, created_by)
		VALUES ($1, $2, $3, $4, $5, nullif($6, '')::uuid)
		RETURNING `+apiKeyColumns, workspaceID, name, prefix, hash, scope, n.CreatedBy))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return APIKey{}, fmt.Errorf("create api key %q: %w", prefix, ErrConflict)
		case "23503":
			return APIKey{}, fmt.Errorf("create api key: workspace %s or creator: %w", workspaceID, ErrNotFound)
		case "23514":
			return APIKey{}, fmt.Errorf("create api key: scope %q is not read or write", scope)
		}
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("create api key %q: %w", prefix, err)
	}
	return k, nil
}

// WorkspaceForAPIKeyHash returns the workspace of an unrevoked key, or ErrNotFound.
// It records the use in last_used_at, but at most once a minute, so that a busy key does not
// turn every authenticated read into a row write.
func (s *Store) WorkspaceForAPIKeyHash(ctx context.Context, hash []byte) (string, error) {
	var workspaceID string
	err := s.Pool.QueryRow(ctx, `
		WITH k AS (
			SELECT id, workspace_id, last_used_at FROM api_keys
			WHERE key_hash = $1 AND revoked_at IS NULL
		), touched AS (
			UPDATE api_keys a SET last_used_at = now()
			FROM k
			WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
		)
		SELECT workspace_id FROM k`, hash).Scan(&workspaceID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("look up api key: %w", err)
	}
	return workspaceID, nil
}

// ListAPIKeys lists the workspace's keys, revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, workspaceID string) ([]APIKey, error) {
	rows, err := s.Pool.Query(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE workspace_id = $1 ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) { return scanAPIKey(row) })
	if err != nil {
		return nil, fmt.Errorf("scan api key: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key of the workspace. Revoking twice keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, workspaceID, id string) error {
	_, _, err := s.RevokeAPIKeyOnce(ctx, workspaceID, id)
	return err
}

// RevokeAPIKeyOnce revokes a key of the workspace and reports whether this call revoked it
// (false when it already was), so the revocation is audited once.
func (s *Store) RevokeAPIKeyOnce(ctx context.Context, workspaceID, id string) (APIKey, bool, error) {
	if !isUUID(id) || !isUUID(workspaceID) {
		return APIKey{}, false, ErrNotFound
	}
	var revokedNow bool
	var k APIKey
	// The CTE reads the row as it was before the update, so it tells a first revocation
	// from a repeated one in one statement.
	err := s.Pool.QueryRow(ctx, `
		WITH before AS (
			SELECT id, revoked_at IS NULL AS live FROM api_keys WHERE workspace_id = $1 AND id = $2
		), upd AS (
			UPDATE api_keys a SET revoked_at = coalesce(a.revoked_at, now())
			FROM before WHERE a.id = before.id
			RETURNING a.id, a.workspace_id, a.name, a.prefix, a.scope, coalesce(a.created_by::text, '') AS created_by,
				a.created_at, a.last_used_at, a.revoked_at
		)
		SELECT upd.*, before.live FROM upd, before`, workspaceID, id).
		Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &k.Scope, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &revokedNow)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, false, ErrNotFound
	}
	if err != nil {
		return APIKey{}, false, fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return k, revokedNow, nil
}
