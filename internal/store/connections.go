package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Connection statuses.
const (
	ConnectionActive      = "active"
	ConnectionNeedsReauth = "needs_reauth"
	ConnectionError       = "error"
	// ConnectionDisconnected: the user removed the connection; its tokens are erased, its
	// data kept. Reconnecting the account makes it active again.
	ConnectionDisconnected = "disconnected"
)

// ErrConflict is returned when a unique natural key already exists.
var ErrConflict = errors.New("already exists")

// Connection is a workspace's link to one provider account.
type Connection struct {
	ID                   string
	WorkspaceID          string
	Channel              string
	ExternalAccountID    string
	DisplayName          string
	Status               string
	StatusReason         string
	TokenCiphertext      []byte
	Timezone             string
	Currency             string
	CursorDate           *time.Time
	ActiveSyncWorkflowID string
	LastSyncedAt         *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// RefreshTokenCiphertext is the sealed OAuth refresh token, nil if the channel has none.
	RefreshTokenCiphertext []byte
	LoginCustomerID        string
	// CursorUpdatedAt is the highest order updated_at read by incremental syncs.
	CursorUpdatedAt *time.Time
	// LastErrorAt, LastErrorWorkflowID and LastErrorMessage describe the last failed sync or
	// backfill window; cleared when a run started after it succeeds.
	LastErrorAt         *time.Time
	LastErrorWorkflowID string
	LastErrorMessage    string
	// TokenExpiresAt is when the access token expires, nil if it does not (or is unknown).
	TokenExpiresAt *time.Time
	// TokenKeyID is the secretbox key id the tokens are sealed under ('' = not recorded).
	TokenKeyID string
}

const connectionColumns = `id, workspace_id, channel, external_account_id, display_name, status,
	status_reason, token_ciphertext, timezone, currency, cursor_date,
	coalesce(active_sync_workflow_id, ''), last_synced_at, created_at, updated_at,
	refresh_token_ciphertext, login_customer_id, cursor_updated_at,
	last_error_at, last_error_workflow_id, last_error, token_expires_at, token_key_id`

func scanConnection(row pgx.Row) (Connection, error) {
	var c Connection
	err := row.Scan(&c.ID, &c.WorkspaceID, &c.Channel, &c.ExternalAccountID, &c.DisplayName, &c.Status,
		&c.StatusReason, &c.TokenCiphertext, &c.Timezone, &c.Currency, &c.CursorDate,
		&c.ActiveSyncWorkflowID, &c.LastSyncedAt, &c.CreatedAt, &c.UpdatedAt,
		&c.RefreshTokenCiphertext, &c.LoginCustomerID, &c.CursorUpdatedAt,
		&c.LastErrorAt, &c.LastErrorWorkflowID, &c.LastErrorMessage, &c.TokenExpiresAt, &c.TokenKeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Connection{}, ErrNotFound
	}
	return c, err
}

// NewConnection is what CreateConnection inserts.
type NewConnection struct {
	WorkspaceID       string
	Channel           string
	ExternalAccountID string
	DisplayName       string
	TokenCiphertext   []byte
	Timezone          string
	Currency          string
	// RefreshTokenCiphertext and LoginCustomerID are for OAuth channels (Google Ads, GA4).
	RefreshTokenCiphertext []byte
	LoginCustomerID        string
	// TokenKeyID is the secretbox key id the tokens were sealed under (Box.KeyID()), so
	// `keys rotate` can skip them; '' makes rotation re-seal them (harmlessly).
	TokenKeyID string
	// TokenExpiresAt is when the access token expires (OAuth grants that say so), for TokenRefresh.
	TokenExpiresAt *time.Time
}

// CreateConnection inserts a connection. A second connection of the same account in the
// same workspace returns ErrConflict.
func (s *Store) CreateConnection(ctx context.Context, n NewConnection) (Connection, error) {
	return insertConnection(ctx, s.Pool, n)
}

// insertConnection is CreateConnection in q (CreateConnectionWithinPlan's transaction).
func insertConnection(ctx context.Context, q Querier, n NewConnection) (Connection, error) {
	row := q.QueryRow(ctx, `
		INSERT INTO connections (workspace_id, channel, external_account_id, display_name,
			token_ciphertext, timezone, currency, refresh_token_ciphertext, login_customer_id,
			token_key_id, token_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+connectionColumns,
		n.WorkspaceID, n.Channel, n.ExternalAccountID, n.DisplayName, n.TokenCiphertext, n.Timezone, n.Currency,
		n.RefreshTokenCiphertext, n.LoginCustomerID, n.TokenKeyID, n.TokenExpiresAt)
	c, err := scanConnection(row)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Connection{}, fmt.Errorf("connection %s/%s: %w", n.Channel, n.ExternalAccountID, ErrConflict)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("insert connection: %w", err)
	}
	return c, nil
}

// GetConnection loads a connection of the workspace; another workspace's id is ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, workspaceID, id string) (Connection, error) {
	if !isUUID(id) {
		return Connection{}, ErrNotFound
	}
	c, err := scanConnection(s.Pool.QueryRow(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Connection{}, fmt.Errorf("load connection %s: %w", id, err)
	}
	return c, err
}

// ListConnections lists the workspace's connections, oldest first.
func (s *Store) ListConnections(ctx context.Context, workspaceID string) ([]Connection, error) {
	rows, err := s.Pool.Query(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE workspace_id = $1 ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Connection, error) { return scanConnection(row) })
	if err != nil {
		return nil, fmt.Errorf("scan connection: %w", err)
	}
	return out, nil
}

// SetConnectionStatus records a status such as needs_reauth with a human-readable reason.
func (s *Store) SetConnectionStatus(ctx context.Context, workspaceID, id, status, reason string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET status = $3, status_reason = $4, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id, status, reason)
	if err != nil {
		return fmt.Errorf("set connection %s status %s: %w", id, status, err)
	}
	return nil
}

// UpdateConnectionAccount stores what the provider says about the account.
func (s *Store) UpdateConnectionAccount(ctx context.Context, workspaceID, id, name, currency, timezone string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET display_name = $3, currency = $4, timezone = $5, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id, name, currency, timezone)
	if err != nil {
		return fmt.Errorf("update connection %s account: %w", id, err)
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// ConnectionSchedule returns the cron text and timezone the connection's schedule was set with.
func (s *Store) ConnectionSchedule(ctx context.Context, workspaceID, id string) (cron, timezone string, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT schedule_cron, CASE WHEN schedule_timezone = '' THEN timezone ELSE schedule_timezone END
		FROM connections WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&cron, &timezone)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("load schedule of connection %s: %w", id, err)
	}
	return cron, timezone, nil
}

// SetConnectionSchedule records the cron text and timezone of the connection's schedule.
func (s *Store) SetConnectionSchedule(ctx context.Context, workspaceID, id, cron, timezone string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET schedule_cron = $3, schedule_timezone = $4, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id, cron, timezone)
	if err != nil {
		return fmt.Errorf("save schedule of connection %s: %w", id, err)
	}
	return nil
}
