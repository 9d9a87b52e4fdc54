package store

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// adStageColumns is the column order of the COPY into the stage table.
var adStageColumns = []string{
	"channel", "account_id", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name",
	"date", "currency", "spend_micros", "impressions", "clicks", "conversions", "conversion_value_micros",
}

// MergeAdRows loads rows with COPY into a transaction-scoped stage table and upserts them
// into ad_metrics_daily on its natural key. Duplicate keys within rows keep the last one.
// It returns the number of rows merged. Call it at most once per transaction: the stage is
// emptied at commit.
func MergeAdRows(ctx context.Context, tx pgx.Tx, workspaceID, connectionID string, rows []channels.AdRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	// The stage is a temp table private to this database session. It is created once per
	// pooled connection and emptied at every commit (creating and dropping it per page cost
	// more than the merge itself: bench/RESULTS.md); a rolled-back page leaves it empty too.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS ad_stage (
		seq bigserial, channel text, account_id text, campaign_id text, campaign_name text,
		adset_id text, adset_name text, ad_id text, ad_name text, date date, currency text,
		spend_micros bigint, impressions bigint, clicks bigint, conversions numeric(20,6),
		conversion_value_micros bigint) ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("create stage table: %w", err)
	}
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{
			string(r.Channel), r.AccountID, r.CampaignID, r.CampaignName, r.AdSetID, r.AdSetName, r.AdID, r.AdName,
			pgtype.Date{Time: r.Date, Valid: true}, r.Currency, r.SpendMicros, r.Impressions, r.Clicks,
			pgtype.Numeric{Int: big.NewInt(r.ConversionsMicros), Exp: -6, Valid: true}, r.ConversionValueMicros,
		}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ad_stage"}, adStageColumns, src); err != nil {
		return 0, fmt.Errorf("copy %d rows into stage: %w", len(rows), err)
	}
	// DISTINCT ON keeps one row per key (ON CONFLICT cannot touch a row twice); ORDER BY the
	// key makes concurrent merges lock rows in the same order, which avoids deadlocks.
	tag, err := tx.Exec(ctx, `
		INSERT INTO ad_metrics_daily AS t (workspace_id, connection_id, channel, account_id, campaign_id,
			campaign_name, adset_id, adset_name, ad_id, ad_name, date, currency, spend_micros, impressions,
			clicks, conversions, conversion_value_micros, synced_at)
		SELECT $1, $2, channel, account_id, campaign_id, campaign_name, adset_id, adset_name, ad_id, ad_name,
			date, currency, spend_micros, impressions, clicks, conversions, conversion_value_micros, now()
		FROM (
			SELECT DISTINCT ON (channel, account_id, campaign_id, adset_id, ad_id, date) *
			FROM ad_stage
			ORDER BY channel, account_id, campaign_id, adset_id, ad_id, date, seq DESC
		) s
		ON CONFLICT ON CONSTRAINT ad_metrics_daily_natural_key DO UPDATE SET
			connection_id = EXCLUDED.connection_id,
			campaign_name = EXCLUDED.campaign_name,
			adset_name = EXCLUDED.adset_name,
			ad_name = EXCLUDED.ad_name,
			currency = EXCLUDED.currency,
			spend_micros = EXCLUDED.spend_micros,
			impressions = EXCLUDED.impressions,
			clicks = EXCLUDED.clicks,
			conversions = EXCLUDED.conversions,
			conversion_value_micros = EXCLUDED.conversion_value_micros,
			synced_at = EXCLUDED.synced_at
		WHERE (t.connection_id, t.campaign_name, t.adset_name, t.ad_name, t.currency, t.spend_micros,
			t.impressions, t.clicks, t.conversions, t.conversion_value_micros)
			IS DISTINCT FROM
			(EXCLUDED.connection_id, EXCLUDED.campaign_name, EXCLUDED.adset_name, EXCLUDED.ad_name,
			EXCLUDED.currency, EXCLUDED.spend_micros, EXCLUDED.impressions, EXCLUDED.clicks,
			EXCLUDED.conversions, EXCLUDED.conversion_value_micros)`,
		workspaceID, connectionID)
	if err != nil {
		return 0, fmt.Errorf("merge stage into ad_metrics_daily: %w", err)
	}
	_ = tag
	return int64(len(rows)), nil
}
