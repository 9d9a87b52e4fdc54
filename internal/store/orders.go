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
	"refund_count",
}

// MergeOrders upserts orders on their natural key (workspace, shop, order id), replaces the
// line items of every order it wrote and adds the refunds of every order it read. It
// returns the number of orders written and the highest updated_at among the input (leaving
// out any more than MaxClockSkew in the future, which no cursor may reach). It also
// upserts the store's record of each order's customer (newer updated_at wins). Call it at
// most once per transaction.
//
// Two versions of an order never let the older one win (a stored version dated more than
// MaxClockSkew in the future is not a version at all, and any version replaces it: it
// must not freeze the order until year 9999):
//   - a version with an older updated_at than the stored one (a page read before a webhook
//     was applied, say) is ignored;
//   - versions with the same updated_at second (Shopify's precision) are ordered by what
//     only grows: the number of refunds, then cancellation. The stored version is replaced
//     only by one with at least as many refunds that does not undo its cancellation.
//
// Refunds only accumulate, as at Shopify, which never deletes one: a refund stored by a
// webhook stays even when a version read before it is merged, and refunded_micros is always
// the sum of the stored refunds.
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
		referring_site text, refund_count int) ON COMMIT DELETE ROWS`); err != nil {
		return 0, maxUpdated, fmt.Errorf("create order stage: %w", err)
	}
	// A far-future updated_at must not carry a cursor past every later update.
	latest := time.Now().Add(MaxClockSkew)
	for _, o := range orders {
		if o.UpdatedAt.After(maxUpdated) && !o.UpdatedAt.After(latest) {
			maxUpdated = o.UpdatedAt
		}
	}
	src := pgx.CopyFromSlice(len(orders), func(i int) ([]any, error) {
		o := orders[i]
		return []any{
			o.ShopDomain, o.OrderID, o.Name, o.CreatedAt, o.UpdatedAt, optionalTime(o.ProcessedAt), o.CancelledAt, o.Currency,
			o.TotalMicros, o.SubtotalMicros, o.TaxMicros, o.DiscountsMicros, o.RefundedMicros, o.FinancialStatus,
			o.Test, o.CustomerID, o.EmailSHA256, o.UTMSource, o.UTMMedium, o.UTMCampaign, o.LandingSite, o.ReferringSite,
			int32(len(o.Refunds)),
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
			ORDER BY shop_domain, order_id, updated_at DESC, refund_count DESC, cancelled_at IS NOT NULL DESC, seq DESC
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
		WHERE (t.updated_at < EXCLUDED.updated_at
				OR t.updated_at > now() + $3::interval
				OR t.updated_at = EXCLUDED.updated_at
					AND (t.cancelled_at IS NULL OR EXCLUDED.cancelled_at IS NOT NULL)
					AND (SELECT count(*) FROM order_refunds r WHERE r.workspace_id = t.workspace_id
						AND r.shop_domain = t.shop_domain AND r.order_id = t.order_id)
						<= (SELECT s2.refund_count FROM order_stage s2 WHERE s2.shop_domain = EXCLUDED.shop_domain
							AND s2.order_id = EXCLUDED.order_id AND s2.updated_at = EXCLUDED.updated_at
							ORDER BY s2.refund_count DESC LIMIT 1))
			AND (t.name, t.updated_at, t.processed_at, t.cancelled_at, t.currency, t.total_micros, t.subtotal_micros,
				t.tax_micros, t.discounts_micros, t.refunded_micros, t.financial_status, t.test, t.customer_id,
				t.email_sha256, t.utm_source, t.utm_medium, t.utm_campaign, t.landing_site, t.referring_site)
			IS DISTINCT FROM
			(EXCLUDED.name, EXCLUDED.updated_at, EXCLUDED.processed_at, EXCLUDED.cancelled_at, EXCLUDED.currency,
				EXCLUDED.total_micros, EXCLUDED.subtotal_micros, EXCLUDED.tax_micros, EXCLUDED.discounts_micros,
				EXCLUDED.refunded_micros, EXCLUDED.financial_status, EXCLUDED.test, EXCLUDED.customer_id,
				EXCLUDED.email_sha256, EXCLUDED.utm_source, EXCLUDED.utm_medium, EXCLUDED.utm_campaign,
				EXCLUDED.landing_site, EXCLUDED.referring_site)
		RETURNING shop_domain, order_id`, workspaceID, connectionID, skewInterval())
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
	if len(written) > 0 {
		if err := replaceLineItems(ctx, tx, workspaceID, orders, written); err != nil {
			return 0, maxUpdated, err
		}
	}
	if err := addRefunds(ctx, tx, workspaceID, orders, written); err != nil {
		return 0, maxUpdated, err
	}
	if err := upsertCustomers(ctx, tx, workspaceID, connectionID, orders); err != nil {
		return 0, maxUpdated, err
	}
	return int64(len(written)), maxUpdated, nil
}

// addRefunds stores the refunds of every input order that is stored, and sets each such
// order's refunded_micros to the sum of its stored refunds. A refund of a written order's
// newest version updates the stored copy (its transactions may have settled since); a
// refund of any other version is only added when missing, so an older read never changes
// a newer one.
func addRefunds(ctx context.Context, tx pgx.Tx, workspaceID string, orders []channels.Order, written map[[2]string]bool) error {
	newest := newestVersions(orders, written)
	type refundKey struct{ shop, order, refund string }
	seen := map[refundKey]bool{}
	var cols [2]struct {
		shops, ids, refundIDs []string
		created               []time.Time
		amounts               []int64
	}
	var shops, ids []string
	keys := map[[2]string]bool{}
	for _, o := range orders {
		k := [2]string{o.ShopDomain, o.OrderID}
		if !keys[k] {
			keys[k] = true
			shops, ids = append(shops, k[0]), append(ids, k[1])
		}
		n, isNewest := newest[k]
		pass := 1
		if isNewest && n.UpdatedAt.Equal(o.UpdatedAt) && len(n.Refunds) == len(o.Refunds) {
			pass = 0
		}
		for _, r := range o.Refunds {
			rk := refundKey{o.ShopDomain, o.OrderID, r.RefundID}
			if seen[rk] {
				continue
			}
			seen[rk] = true
			c := &cols[pass]
			c.shops, c.ids, c.refundIDs = append(c.shops, o.ShopDomain), append(c.ids, o.OrderID), append(c.refundIDs, r.RefundID)
			c.created, c.amounts = append(c.created, r.CreatedAt), append(c.amounts, r.AmountMicros)
		}
	}
	for pass, c := range cols {
		if len(c.refundIDs) == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO order_refunds AS r (workspace_id, shop_domain, order_id, refund_id, created_at, amount_micros)
			SELECT $1, u.shop, u.id, u.refund, u.created, u.amount
			FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[]) AS u(shop, id, refund, created, amount)
			WHERE EXISTS (SELECT 1 FROM orders o WHERE o.workspace_id = $1 AND o.shop_domain = u.shop AND o.order_id = u.id)
			ON CONFLICT (workspace_id, shop_domain, order_id, refund_id) DO UPDATE
				SET created_at = EXCLUDED.created_at, amount_micros = EXCLUDED.amount_micros
				WHERE $7 AND (r.created_at, r.amount_micros) IS DISTINCT FROM (EXCLUDED.created_at, EXCLUDED.amount_micros)`,
			workspaceID, c.shops, c.ids, c.refundIDs, c.created, c.amounts, pass == 0); err != nil {
			return fmt.Errorf("add refunds: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE orders o SET refunded_micros = s.total
		FROM (SELECT k.shop, k.id, coalesce(sum(r.amount_micros), 0) AS total
			FROM unnest($2::text[], $3::text[]) AS k(shop, id)
			LEFT JOIN order_refunds r ON r.workspace_id = $1 AND r.shop_domain = k.shop AND r.order_id = k.id
			GROUP BY k.shop, k.id) s
		WHERE o.workspace_id = $1 AND o.shop_domain = s.shop AND o.order_id = s.id
			AND o.refunded_micros <> s.total`, workspaceID, shops, ids); err != nil {
		return fmt.Errorf("sum refunds: %w", err)
	}
	return nil
}

// newestVersions is, per written order, its newest version in the input: the one the
// merge stored (latest updated_at, then most refunds, then cancelled).
func newestVersions(orders []channels.Order, written map[[2]string]bool) map[[2]string]channels.Order {
	newest := map[[2]string]channels.Order{}
	for _, o := range orders {
		k := [2]string{o.ShopDomain, o.OrderID}
		if !written[k] {
			continue
		}
		cur, ok := newest[k]
		if !ok || newerVersion(o, cur) {
			newest[k] = o
		}
	}
	return newest
}

// newerVersion reports whether a is at least as new as b, by the order MergeOrders uses.
func newerVersion(a, b channels.Order) bool {
	if !a.UpdatedAt.Equal(b.UpdatedAt) {
		return a.UpdatedAt.After(b.UpdatedAt)
	}
	if len(a.Refunds) != len(b.Refunds) {
		return len(a.Refunds) > len(b.Refunds)
	}
	return a.CancelledAt != nil || b.CancelledAt == nil
}

// replaceLineItems rewrites the line items of the written orders, taking each order's
// items from its newest version in the input.
func replaceLineItems(ctx context.Context, tx pgx.Tx, workspaceID string, orders []channels.Order, written map[[2]string]bool) error {
	newest := newestVersions(orders, written)
	shops := make([]string, 0, len(newest))
	ids := make([]string, 0, len(newest))
	var items [][]any
	for k, o := range newest {
		shops = append(shops, k[0])
		ids = append(ids, k[1])
		for _, li := range o.LineItems {
			items = append(items, []any{workspaceID, o.ShopDomain, o.OrderID, li.LineItemID, li.ProductID, li.VariantID,
				li.SKU, li.Title, li.Quantity, li.PriceMicros})
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM order_line_items c USING unnest($2::text[], $3::text[]) AS k(shop, id)
		WHERE c.workspace_id = $1 AND c.shop_domain = k.shop AND c.order_id = k.id`, workspaceID, shops, ids); err != nil {
		return fmt.Errorf("clear order_line_items: %w", err)
	}
	if len(items) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"order_line_items"}, []string{"workspace_id", "shop_domain", "order_id",
			"line_item_id", "product_id", "variant_id", "sku", "title", "quantity", "price_micros"}, pgx.CopyFromRows(items)); err != nil {
			return fmt.Errorf("copy line items: %w", err)
		}
	}
	return nil
}

// skewInterval is MaxClockSkew as a PostgreSQL interval.
func skewInterval() string { return fmt.Sprintf("%d seconds", int64(MaxClockSkew/time.Second)) }

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
