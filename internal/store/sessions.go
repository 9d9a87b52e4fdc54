package store

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// MergeSessionRows upserts GA4 rows on their natural key (workspace, property, date, source,
// medium, campaign), rewriting only rows whose values changed. Call it at most once per
// transaction.
func MergeSessionRows(ctx context.Context, tx pgx.Tx, workspaceID, connectionID string, rows []channels.SessionRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS session_stage (
		seq bigserial, property_id text, date date, source text, medium text, campaign text, sessions bigint,
		conversions numeric(20,6), revenue_micros bigint, currency text) ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("create session stage: %w", err)
	}
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{r.PropertyID, pgtype.Date{Time: r.Date, Valid: true}, r.Source, r.Medium, r.Campaign, r.Sessions,
			pgtype.Numeric{Int: big.NewInt(r.ConversionsMicros), Exp: -6, Valid: true}, r.RevenueMicros, r.Currency}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"session_stage"},
		[]string{"property_id", "date", "source", "medium", "campaign", "sessions", "conversions", "revenue_micros", "currency"}, src); err != nil {
		return 0, fmt.Errorf("copy %d session rows into stage: %w", len(rows), err)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO sessions_daily AS t (workspace_id, connection_id, property_id, date, source, medium, campaign,
			sessions, conversions, revenue_micros, currency, synced_at)
		SELECT $1, $2, property_id, date, source, medium, campaign, sessions, conversions, revenue_micros, currency, now()
		FROM (
			SELECT DISTINCT ON (property_id, date, source, medium, campaign) * FROM session_stage
			ORDER BY property_id, date, source, medium, campaign, seq DESC
		) s
		ON CONFLICT ON CONSTRAINT sessions_daily_natural_key DO UPDATE SET
			connection_id = EXCLUDED.connection_id, sessions = EXCLUDED.sessions, conversions = EXCLUDED.conversions,
			revenue_micros = EXCLUDED.revenue_micros, currency = EXCLUDED.currency, synced_at = EXCLUDED.synced_at
		WHERE (t.connection_id, t.sessions, t.conversions, t.revenue_micros, t.currency) IS DISTINCT FROM
			(EXCLUDED.connection_id, EXCLUDED.sessions, EXCLUDED.conversions, EXCLUDED.revenue_micros, EXCLUDED.currency)`,
		workspaceID, connectionID)
	if err != nil {
		return 0, fmt.Errorf("merge session stage into sessions_daily: %w", err)
	}
	return int64(len(rows)), nil
}

// CommitSessionsPage merges one page of session rows and records the run's read position in
// the same transaction; the window's last page removes the rows the read did not return.
func (s *Store) CommitSessionsPage(ctx context.Context, run SyncRun, c Claim, rows []channels.SessionRow, nextCursor string) (SyncRun, error) {
	return s.commitWindowPage(ctx, sessionFacts, run, c, nextCursor, func(tx pgx.Tx) (int64, error) {
		return MergeSessionRows(ctx, tx, run.WorkspaceID, run.ConnectionID, rows)
	})
}
