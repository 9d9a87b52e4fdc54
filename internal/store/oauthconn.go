package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConnectionDisabled is the status of a connection the provider cut off (Shopify app
// uninstalled); its tokens are erased.
const ConnectionDisabled = "disabled"

// OAuthConnection is a connection as an OAuth consent creates or renews it.
type OAuthConnection struct {
	WorkspaceID       string
	Channel           string
	ExternalAccountID string
	DisplayName       string
	Timezone          string
	Currency          string
	TokenCiphertext   []byte
	// RefreshTokenCiphertext nil keeps a renewed connection's refresh token.
	RefreshTokenCiphertext []byte
	TokenExpiresAt         *time.Time
	ConnectedBy            string
	// Scopes nil leaves the recorded scopes as they are.
	Scopes []string
	// WebhookIDs nil leaves the recorded Shopify webhook ids as they are.
	WebhookIDs []string
	// TokenKeyID is the secretbox key id the new tokens are sealed under.
	TokenKeyID string
}

// UpsertOAuthConnection creates the connection, or, when the workspace already has one for
// the account (a reconnect), replaces its tokens in place: same id, history, cursor,
// schedule, timezone and currency; status back to active. created says which happened.
func (s *Store) UpsertOAuthConnection(ctx context.Context, n OAuthConnection) (c Connection, created bool, err error) {
	id, created, err := upsertOAuthConnection(ctx, s.Pool, n)
	if err != nil {
		return Connection{}, false, err
	}
	c, err = s.GetConnection(ctx, n.WorkspaceID, id)
	return c, created, err
}

// upsertOAuthConnection is UpsertOAuthConnection's write in q (also
// UpsertOAuthConnectionWithinPlan's transaction); it returns the connection's id.
func upsertOAuthConnection(ctx context.Context, q Querier, n OAuthConnection) (id string, created bool, err error) {
	err = q.QueryRow(ctx, `
		INSERT INTO connections (workspace_id, channel, external_account_id, display_name, token_ciphertext,
			timezone, currency, refresh_token_ciphertext, token_expires_at, connected_by, access_scopes,
			provider_webhook_ids, token_key_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, '')::uuid, $11, coalesce($12, '{}'::text[]), $13)
		ON CONFLICT (workspace_id, channel, external_account_id) DO UPDATE SET
			token_ciphertext = EXCLUDED.token_ciphertext,
			refresh_token_ciphertext = coalesce(EXCLUDED.refresh_token_ciphertext, connections.refresh_token_ciphertext),
			token_expires_at = EXCLUDED.token_expires_at,
			connected_by = coalesce(EXCLUDED.connected_by, connections.connected_by),
			access_scopes = coalesce(EXCLUDED.access_scopes, connections.access_scopes),
			provider_webhook_ids = CASE WHEN $12::text[] IS NULL THEN connections.provider_webhook_ids
				ELSE EXCLUDED.provider_webhook_ids END,
			display_name = CASE WHEN EXCLUDED.display_name <> '' THEN EXCLUDED.display_name ELSE connections.display_name END,
			-- A kept refresh token may be sealed under an older key: '' leaves the row to
			-- the next key rotation.
			token_key_id = CASE WHEN EXCLUDED.refresh_token_ciphertext IS NOT NULL OR connections.refresh_token_ciphertext IS NULL
				THEN EXCLUDED.token_key_id ELSE '' END,
			status = 'active', status_reason = '', reauth_notified_at = NULL, disconnected_at = NULL, updated_at = now()
		RETURNING id, (xmax = 0)`,
		n.WorkspaceID, n.Channel, n.ExternalAccountID, n.DisplayName, n.TokenCiphertext, n.Timezone, n.Currency,
		n.RefreshTokenCiphertext, n.TokenExpiresAt, n.ConnectedBy, n.Scopes, n.WebhookIDs, n.TokenKeyID,
	).Scan(&id, &created)
	if err != nil {
		return "", false, fmt.Errorf("upsert connection %s/%s: %w", n.Channel, n.ExternalAccountID, err)
	}
	return id, created, nil
}

// ConnectionWebhookIDs returns the Shopify webhook ids recorded for the connection.
func (s *Store) ConnectionWebhookIDs(ctx context.Context, workspaceID, id string) ([]string, error) {
	var ids []string
	err := s.Pool.QueryRow(ctx, `SELECT provider_webhook_ids FROM connections WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id).Scan(&ids)
	if err == pgx.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load webhook ids of connection %s: %w", id, err)
	}
	return ids, nil
}

// AccountConnectedElsewhere reports whether another connection that is not disabled reads
// the same provider account (in any workspace): provider-side registrations such as
// Shopify's webhooks are shared by them.
func (s *Store) AccountConnectedElsewhere(ctx context.Context, conn Connection) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM connections
		WHERE channel = $1 AND external_account_id = $2 AND id <> $3 AND status <> 'disabled')`,
		conn.Channel, conn.ExternalAccountID, conn.ID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for other connections of %s: %w", conn.ExternalAccountID, err)
	}
	return ok, nil
}

// DisableAccountConnections disables every connection of the account (all workspaces) with
// reason and erases their tokens: the provider revoked them all at once (Shopify
// app/uninstalled). It returns the connections changed; ones already disabled are left.
func (s *Store) DisableAccountConnections(ctx context.Context, channel, accountID, reason string) ([]Connection, error) {
	rows, err := s.Pool.Query(ctx, `
		UPDATE connections SET status = 'disabled', status_reason = $3, token_ciphertext = '\x'::bytea,
			refresh_token_ciphertext = NULL, token_expires_at = NULL, provider_webhook_ids = '{}', updated_at = now()
		WHERE channel = $1 AND external_account_id = $2 AND status <> 'disabled'
		RETURNING `+connectionColumns, channel, accountID, reason)
	if err != nil {
		return nil, fmt.Errorf("disable connections of %s: %w", accountID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Connection, error) { return scanConnection(row) })
	if err != nil {
		return nil, fmt.Errorf("disable connections of %s: %w", accountID, err)
	}
	return out, nil
}
