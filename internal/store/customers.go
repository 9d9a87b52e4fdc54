package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// upsertCustomers stores the store's record of each order's customer, read with the order.
// A record replaces the stored one only when its updated_at is newer (an older page read
// after a webhook never rolls it back; one stored with an updated_at beyond MaxClockSkew
// in the future is replaced by any), and a re-read of the same record changes nothing.
// It runs in the transaction that merges the orders.
func upsertCustomers(ctx context.Context, tx pgx.Tx, workspaceID, connectionID string, orders []channels.Order) error {
	type key struct{ shop, id string }
	newest := map[key]channels.Order{}
	for _, o := range orders {
		c := o.Customer
		if c == nil || c.ID == "" {
			continue
		}
		k := key{o.ShopDomain, c.ID}
		if cur, ok := newest[k]; !ok || c.UpdatedAt.After(cur.Customer.UpdatedAt) {
			newest[k] = o
		}
	}
	if len(newest) == 0 {
		return nil
	}
	// Rows are written in key order, so concurrent pages (backfill windows run side by side)
	// lock shared customers in the same order and never deadlock.
	keys := make([]key, 0, len(newest))
	for k := range newest {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.shop, b.shop), cmp.Compare(a.id, b.id)) })
	var shops, ids, emails []string
	var created, updated []time.Time
	var counts []int64
	for _, k := range keys {
		c := newest[k].Customer
		shops, ids, emails = append(shops, k.shop), append(ids, k.id), append(emails, c.EmailSHA256)
		created, updated, counts = append(created, c.CreatedAt), append(updated, c.UpdatedAt), append(counts, c.OrdersCount)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO customers AS t (workspace_id, connection_id, shop_domain, customer_id,
			email_sha256, created_at, updated_at, orders_count, synced_at)
		SELECT $1, $2, u.shop, u.id, u.email, u.created, u.updated, u.orders, now()
		FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::bigint[])
			AS u(shop, id, email, created, updated, orders)
		ORDER BY u.shop, u.id
		ON CONFLICT ON CONSTRAINT customers_natural_key DO UPDATE SET
			connection_id = EXCLUDED.connection_id, email_sha256 = EXCLUDED.email_sha256,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
			-- The embedded customer carries no orders count: keep a known one.
			orders_count = CASE WHEN EXCLUDED.orders_count >= 0 THEN EXCLUDED.orders_count ELSE t.orders_count END,
			synced_at = EXCLUDED.synced_at
		WHERE t.updated_at < EXCLUDED.updated_at OR t.updated_at > now() + $9::interval`,
		workspaceID, connectionID, shops, ids, emails, created, updated, counts, skewInterval()); err != nil {
		return fmt.Errorf("upsert %d customers: %w", len(ids), err)
	}
	return nil
}
