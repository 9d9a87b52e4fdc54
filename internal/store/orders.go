package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

var orderStageColumns = []string{
	"shop_domain", "order_id", "name", "created_at", "updated_at", "processed_at", "cancelled_at", "currency",
	"total_micros", "subtotal_micros", "tax_micros", "discounts_micros", "refunded_micros", "financial_status",
	"test", "customer_id", "email_sha256", "utm_source", "utm_medium", "utm_campaign", "landing_site", "referring_site",
}

// MergeOrders upserts orders on their natural key (workspace, shop, order id) and replaces
// the line items and refunds of every order it wrote. A version older than the stored one
// (a late page after a webhook, say) is ignored, children included. It returns the number
// of orders written and the highest updated_at among the input. Call it at most once per
// transaction.
func MergeOrders(ctx context.Context, tx pgx.Tx, workspaceID, connectionID string, orders []channels.Order) (int64, time.Time, error) {
	var maxUpdated time.Time
	if len(orders) == 0 {
		return 0, maxUpdated, nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS order_stage (
		seq bigserial, shop_domain text, order_id text, name text, created_at timestamptz, updated_at timestamptz,
		processed_at timestamptz, cancelled_at timestamptz, currency text, total_micros bigint, subtotal_micros bigint,
		tax_micros bigint, discounts_micros bigint, refunded_micros bigint, financial_status text, test boolean,
		customer_id text, email_sha256 text, utm_source text, utm_medium text, utm_campaign text, landing_site text,
		referring_site text) ON COMMIT DELETE ROWS`); err != nil {
		return 0, maxUpdated, fmt.Errorf("create order stage: %w", err)
	}
	for _, o := range orders {
		if o.UpdatedAt.After(maxUpdated) {
			maxUpdated = o.UpdatedAt
		}
	}
	src := pgx.CopyFromSlice(len(orders), func(i int) ([]any, error) {
		o := orders[i]
		return []any{
			o.ShopDomain, o.OrderID, o.Name, o.CreatedAt, o.UpdatedAt, optionalTime(o.ProcessedAt), o.CancelledAt, o.Currency,
			o.TotalMicros, o.SubtotalMicros, o.TaxMicros, o.DiscountsMicros, o.RefundedMicros, o.FinancialStatus,
			o.Test, o.CustomerID, o.EmailSHA256, o.UTMSource, o.UTMMedium, o.UTMCampaign, o.LandingSite, o.ReferringSite,
		}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"order_stage"}, orderStageColumns, src); err != nil {
		return 0, maxUpdated, fmt.Errorf("copy %d orders into stage: %w", len(orders), err)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO orders AS t (workspace_id, connection_id, shop_domain, order_id, name, created_at, updated_at,
			processed_at, cancelled_at, currency, total_micros, subtotal_micros, tax_micros, discounts_micros,
			refunded_micros, financial_status, test, customer_id, email_sha256, utm_source, utm_medium, utm_campaign,
			landing_site, referring_site, synced_at)
		SELECT $1, $2, shop_domain, order_id, name, created_at, updated_at, processed_at, cancelled_at, currency,
			total_micros, subtotal_micros, tax_micros, discounts_micros, refunded_micros, financial_status, test,
			customer_id, email_sha256, utm_source, utm_medium, utm_campaign, landing_site, referring_site, now()
		FROM (
			SELECT DISTINCT ON (shop_domain, order_id) * FROM order_stage
			ORDER BY shop_domain, order_id, updated_at DESC, seq DESC
		) s
		ON CONFLICT ON CONSTRAINT orders_natural_key DO UPDATE SET
			connection_id = EXCLUDED.connection_id, name = EXCLUDED.name, created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at, processed_at = EXCLUDED.processed_at,
			cancelled_at = EXCLUDED.cancelled_at, currency = EXCLUDED.currency,
			total_micros = EXCLUDED.total_micros, subtotal_micros = EXCLUDED.subtotal_micros,
			tax_micros = EXCLUDED.tax_micros, discounts_micros = EXCLUDED.discounts_micros,
			refunded_micros = EXCLUDED.refunded_micros, financial_status = EXCLUDED.financial_status,
			test = EXCLUDED.test, customer_id = EXCLUDED.customer_id, email_sha256 = EXCLUDED.email_sha256,
			utm_source = EXCLUDED.utm_source, utm_medium = EXCLUDED.utm_medium, utm_campaign = EXCLUDED.utm_campaign,
			landing_site = EXCLUDED.landing_site, referring_site = EXCLUDED.referring_site, synced_at = EXCLUDED.synced_at
		WHERE t.updated_at <= EXCLUDED.updated_at
			AND (t.name, t.updated_at, t.processed_at, t.cancelled_at, t.currency, t.total_micros, t.subtotal_micros,
				t.tax_micros, t.discounts_micros, t.refunded_micros, t.financial_status, t.test, t.customer_id,
				t.email_sha256, t.utm_source, t.utm_medium, t.utm_campaign, t.landing_site, t.referring_site)
			IS DISTINCT FROM
			(EXCLUDED.name, EXCLUDED.updated_at, EXCLUDED.processed_at, EXCLUDED.cancelled_at, EXCLUDED.currency,
				EXCLUDED.total_micros, EXCLUDED.subtotal_micros, EXCLUDED.tax_micros, EXCLUDED.discounts_micros,
				EXCLUDED.refunded_micros, EXCLUDED.financial_status, EXCLUDED.test, EXCLUDED.customer_id,
				EXCLUDED.email_sha256, EXCLUDED.utm_source, EXCLUDED.utm_medium, EXCLUDED.utm_campaign,
				EXCLUDED.landing_site, EXCLUDED.referring_site)
		RETURNING shop_domain, order_id`, workspaceID, connectionID)
	if err != nil {
		return 0, maxUpdated, fmt.Errorf("merge orders: %w", err)
	}
	written := map[[2]string]bool{}
	for rows.Next() {
		var shop, id string
		if err := rows.Scan(&shop, &id); err != nil {
			rows.Close()
			return 0, maxUpdated, fmt.Errorf("scan merged order: %w", err)
		}
		written[[2]string{shop, id}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, maxUpdated, fmt.Errorf("merge orders: %w", err)
	}
	if len(written) == 0 {
		return 0, maxUpdated, nil
	}
	if err := replaceOrderChildren(ctx, tx, workspaceID, orders, written); err != nil {
		return 0, maxUpdated, err
	}
	return int64(len(written)), maxUpdated, nil
}

// replaceOrderChildren rewrites the line items and refunds of the written orders, taking
// each order's children from its newest version in the input.
func replaceOrderChildren(ctx context.Context, tx pgx.Tx, workspaceID string, orders []channels.Order, written map[[2]string]bool) error {
	newest := map[[2]string]channels.Order{}
	for _, o := range orders {
		k := [2]string{o.ShopDomain, o.OrderID}
		if !written[k] {
			continue
		}
		if cur, ok := newest[k]; !ok || !o.UpdatedAt.Before(cur.UpdatedAt) {
			newest[k] = o
		}
	}
	shops := make([]string, 0, len(newest))
	ids := make([]string, 0, len(newest))
	var items, refunds [][]any
	for k, o := range newest {
		shops = append(shops, k[0])
		ids = append(ids, k[1])
		for _, li := range o.LineItems {
			items = append(items, []any{workspaceID, o.ShopDomain, o.OrderID, li.LineItemID, li.ProductID, li.VariantID,
				li.SKU, li.Title, li.Quantity, li.PriceMicros})
		}
		for _, r := range o.Refunds {
			refunds = append(refunds, []any{workspaceID, o.ShopDomain, o.OrderID, r.RefundID, r.CreatedAt, r.AmountMicros})
		}
	}
	for _, table := range []string{"order_line_items", "order_refunds"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` c USING unnest($2::text[], $3::text[]) AS k(shop, id)
			WHERE c.workspace_id = $1 AND c.shop_domain = k.shop AND c.order_id = k.id`, workspaceID, shops, ids); err != nil {
			return fmt.Errorf("clear %s: %w", table, err)
		}
	}
	if len(items) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"order_line_items"}, []string{"workspace_id", "shop_domain", "order_id",
			"line_item_id", "product_id", "variant_id", "sku", "title", "quantity", "price_micros"}, pgx.CopyFromRows(items)); err != nil {
			return fmt.Errorf("copy line items: %w", err)
		}
	}
	if len(refunds) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"order_refunds"}, []string{"workspace_id", "shop_domain", "order_id",
			"refund_id", "created_at", "amount_micros"}, pgx.CopyFromRows(refunds)); err != nil {
			return fmt.Errorf("copy refunds: %w", err)
		}
	}
	return nil
}

func optionalTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// CommitOrdersPage merges one page of orders, records the run's read position and advances
// the connection's updated_at cursor, in one transaction. Orders are read by update time,
// not by date window, so a completed read removes nothing.
func (s *Store) CommitOrdersPage(ctx context.Context, run SyncRun, c Claim, orders []channels.Order, nextCursor string, advanceCursor bool) (SyncRun, error) {
	return s.commitPage(ctx, run, c, nextCursor, func(tx pgx.Tx) (int64, error) {
		_, maxUpdated, err := MergeOrders(ctx, tx, run.WorkspaceID, run.ConnectionID, orders)
		if err != nil {
			return 0, err
		}
		if advanceCursor && !maxUpdated.IsZero() {
			if _, err := tx.Exec(ctx, `UPDATE connections SET cursor_updated_at = greatest(coalesce(cursor_updated_at, $2), $2)
				WHERE id = $1`, run.ConnectionID, maxUpdated); err != nil {
				return 0, fmt.Errorf("advance orders cursor: %w", err)
			}
		}
		return int64(len(orders)), nil
	}, nil)
}
