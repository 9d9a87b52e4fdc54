package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

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

// recordDelivery notes a webhook delivery for a workspace; false means it was seen before.
func recordDelivery(ctx context.Context, tx pgx.Tx, provider, webhookID, workspaceID, topic string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (provider, webhook_id, workspace_id, topic)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1`, provider, webhookID, workspaceID, topic).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record webhook %s: %w", webhookID, err)
	}
	return true, nil
}

// ApplyOrderWebhook upserts an order delivered by webhook, once per delivery id. It returns
// false for a delivery already applied.
func (s *Store) ApplyOrderWebhook(ctx context.Context, conn Connection, webhookID, topic string, order channels.Order) (bool, error) {
	var fresh bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if fresh, err = recordDelivery(ctx, tx, conn.Channel, webhookID, conn.WorkspaceID, topic); err != nil || !fresh {
			return err
		}
		_, _, err = MergeOrders(ctx, tx, conn.WorkspaceID, conn.ID, []channels.Order{order})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("apply %s webhook %s: %w", topic, webhookID, err)
	}
	return fresh, nil
}

// ApplyRefundWebhook adds a refund delivered by webhook to its order and recomputes the
// order's refunded total, once per delivery id. A refund of an order not synced yet is
// left to the next sync, which reads the order with its refunds.
func (s *Store) ApplyRefundWebhook(ctx context.Context, conn Connection, webhookID, topic, orderID string, r channels.Refund) (bool, error) {
	var fresh bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if fresh, err = recordDelivery(ctx, tx, conn.Channel, webhookID, conn.WorkspaceID, topic); err != nil || !fresh {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO order_refunds (workspace_id, shop_domain, order_id, refund_id, created_at, amount_micros)
			SELECT workspace_id, shop_domain, order_id, $4, $5, $6 FROM orders
			WHERE workspace_id = $1 AND shop_domain = $2 AND order_id = $3
			ON CONFLICT DO NOTHING`, conn.WorkspaceID, conn.ExternalAccountID, orderID, r.RefundID, r.CreatedAt, r.AmountMicros)
		if err != nil {
			return fmt.Errorf("insert refund %s: %w", r.RefundID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		// Shopify bumps the order's updated_at when it creates a refund, so the stored version
		// is now at least as new as the refund: a page read before it must not win.
		_, err = tx.Exec(ctx, `UPDATE orders o SET refunded_micros = (SELECT coalesce(sum(amount_micros), 0) FROM order_refunds r
				WHERE r.workspace_id = o.workspace_id AND r.shop_domain = o.shop_domain AND r.order_id = o.order_id),
			updated_at = greatest(o.updated_at, $4), synced_at = now()
			WHERE workspace_id = $1 AND shop_domain = $2 AND order_id = $3`, conn.WorkspaceID, conn.ExternalAccountID, orderID, r.CreatedAt)
		if err != nil {
			return fmt.Errorf("update refunded total of order %s: %w", orderID, err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("apply %s webhook %s: %w", topic, webhookID, err)
	}
	return fresh, nil
}
