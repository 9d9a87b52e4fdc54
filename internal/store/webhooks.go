package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Outcomes of a webhook delivery in one workspace (webhook_deliveries.outcome).
const (
	// OutcomeApplied: the order, as the shop's API returned it, was merged.
	OutcomeApplied = "applied"
	// OutcomeStale: the delivery was triggered longer ago than the freshness window.
	OutcomeStale = "stale"
	// OutcomeInvalid: the body or the order read back failed validation.
	OutcomeInvalid = "invalid"
	// OutcomeNotFound: the connection's shop has no such order: the body came from another
	// shop (a replay under a forged shop-domain header) or the order is gone.
	OutcomeNotFound = "not_found"
	// OutcomeSkipped: the connection takes no data (disabled, disconnected, needs_reauth,
	// or its syncs are paused).
	OutcomeSkipped = "skipped"
	// OutcomeUnverified: the shop's API refused the connection's token, so the order could
	// not be read back; the next sync, which also meets the refusal, deals with it.
	OutcomeUnverified = "unverified"
)

// maxOutcomeDetail bounds the stored reason of an outcome.
const maxOutcomeDetail = 500

// ConnectionsForAccount lists every workspace's connection to one provider account. Only
// webhooks use it: they are authenticated by the provider's signature and name an account,
// not a workspace, and each workspace that connected the account gets the update.
func (s *Store) ConnectionsForAccount(ctx context.Context, channel, accountID string) ([]Connection, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE channel = $1 AND external_account_id = $2 ORDER BY created_at, id`, channel, accountID)
	if err != nil {
		return nil, fmt.Errorf("find connections of %s account %s: %w", channel, accountID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Connection, error) { return scanConnection(row) })
	if err != nil {
		return nil, fmt.Errorf("scan connection: %w", err)
	}
	return out, nil
}

// WebhookOutcomes returns, by workspace, the recorded outcome of a delivery: the
// workspaces absent from the map have not seen it.
func (s *Store) WebhookOutcomes(ctx context.Context, provider, webhookID string) (map[string]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT workspace_id, outcome FROM webhook_deliveries
		WHERE provider = $1 AND webhook_id = $2`, provider, webhookID)
	if err != nil {
		return nil, fmt.Errorf("find deliveries of webhook %s: %w", webhookID, err)
	}
	out := map[string]string{}
	var ws, outcome string
	if _, err := pgx.ForEachRow(rows, []any{&ws, &outcome}, func() error {
		out[ws] = outcome
		return nil
	}); err != nil {
		return nil, fmt.Errorf("scan deliveries of webhook %s: %w", webhookID, err)
	}
	return out, nil
}

// RecordWebhookOutcome records a delivery that is not applied in the connection's
// workspace, with why; false means the delivery was recorded before (and this one changed
// nothing).
func (s *Store) RecordWebhookOutcome(ctx context.Context, conn Connection, webhookID, topic, outcome, detail string) (bool, error) {
	var fresh bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		fresh, err = recordDelivery(ctx, tx, conn.Channel, webhookID, conn.WorkspaceID, topic, outcome, detail)
		return err
	})
	return fresh, err
}

// recordDelivery notes a webhook delivery for a workspace; false means it was seen before.
func recordDelivery(ctx context.Context, tx pgx.Tx, provider, webhookID, workspaceID, topic, outcome, detail string) (bool, error) {
	if len(detail) > maxOutcomeDetail {
		cut := maxOutcomeDetail
		for cut > 0 && !utf8.RuneStart(detail[cut]) {
			cut--
		}
		detail = detail[:cut]
	}
	var one int
	err := tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (provider, webhook_id, workspace_id, topic, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1`,
		provider, webhookID, workspaceID, topic, outcome, detail).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record webhook %s: %w", webhookID, err)
	}
	return true, nil
}

// ApplyOrderWebhook upserts an order delivered by webhook into the connection's workspace,
// once per delivery id. The order is validated first (ValidateOrder at now): an invalid
// one is recorded with OutcomeInvalid and stores nothing, so a bad currency or a
// far-future updated_at is answered once and never retried into the database. It returns
// the outcome this call recorded; fresh is false for a delivery recorded before, which this
// call left as it was.
func (s *Store) ApplyOrderWebhook(ctx context.Context, conn Connection, webhookID, topic string, order channels.Order, now time.Time) (outcome string, fresh bool, err error) {
	outcome, detail := OutcomeApplied, ""
	if order.ShopDomain != conn.ExternalAccountID {
		outcome, detail = OutcomeInvalid, fmt.Sprintf("order of shop %q delivered to a connection of %q", order.ShopDomain, conn.ExternalAccountID)
	} else if verr := ValidateOrder(order, now); verr != nil {
		outcome, detail = OutcomeInvalid, verr.Error()
	}
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if fresh, err = recordDelivery(ctx, tx, conn.Channel, webhookID, conn.WorkspaceID, topic, outcome, detail); err != nil || !fresh {
			return err
		}
		if outcome != OutcomeApplied {
			return nil
		}
		_, _, err = MergeOrders(ctx, tx, conn.WorkspaceID, conn.ID, []channels.Order{order})
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("apply %s webhook %s: %w", topic, webhookID, err)
	}
	return outcome, fresh, nil
}
