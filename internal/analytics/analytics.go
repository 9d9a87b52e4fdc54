package analytics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// ErrWorkspaceNotFound is returned when the workspace does not exist.
var ErrWorkspaceNotFound = errors.New("workspace not found")

// DB is what the queries need from a pgx pool, connection or transaction.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Queries computes the KPIs of one workspace at a time. It is safe for concurrent use if
// its DB is (a pgxpool.Pool is).
type Queries struct {
	db DB
}

// New returns Queries that read from db.
func New(db DB) *Queries { return &Queries{db: db} }

// Workspace is what a report is relative to: the currency its money is in and the time zone
// its days are in.
type Workspace struct {
	ID       string
	Currency string
	Timezone string
}

// workspace loads the reporting settings of a workspace.
func (q *Queries) workspace(ctx context.Context, id string) (Workspace, error) {
	ws := Workspace{ID: id}
	err := q.db.QueryRow(ctx, `SELECT currency, timezone FROM workspaces WHERE id = $1`, id).
		Scan(&ws.Currency, &ws.Timezone)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, fmt.Errorf("workspace %s: %w", id, ErrWorkspaceNotFound)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("load workspace %s: %w", id, err)
	}
	return ws, nil
}

// AdTotals are summed ad-platform measures in one currency. Conversions are micros of a
// (possibly fractional) conversion count.
type AdTotals struct {
	SpendMicros           int64
	Impressions           int64
	Clicks                int64
	ConversionsMicros     int64
	ConversionValueMicros int64
}

// Totals are everything the KPIs of one period are derived from.
type Totals struct {
	AdTotals
	// RevenueMicros is the net sales of valid orders.
	RevenueMicros int64
	// Orders is the number of valid orders.
	Orders       int64
	NewCustomers int64
	Sessions     int64
}

// PreviousWindow is the range of w's length that ends the day before w.From.
func PreviousWindow(w channels.Window) channels.Window {
	prevTo := w.From.AddDate(0, 0, -1)
	return channels.Window{From: prevTo.AddDate(0, 0, 1-w.Days()), To: prevTo}
}

// day passes a calendar day as text so that neither the session time zone nor the
// time.Time's location can shift it.
func day(t time.Time) string { return t.Format(channels.DateLayout) }

// validOrder is the SQL condition of an order that counts.
func validOrder(alias string) string {
	return "NOT " + alias + ".test AND " + alias + ".cancelled_at IS NULL"
}

// localDay is the SQL expression of the workspace day an order counts on; tz is the SQL of
// the workspace time zone.
func localDay(alias, tz string) string {
	return "(" + alias + ".created_at AT TIME ZONE " + tz + ")::date"
}

// createdInDays is the SQL condition that an order's workspace day is in [from, to]. The
// outer bounds a day wider than the range let the created_at index narrow the scan; the
// local-day test decides, so that a zone's odd midnights (DST at 00:00) cannot shift a
// boundary.
func createdInDays(alias, from, to, tz string) string {
	c := alias + ".created_at"
	return c + " >= (" + from + "::date::timestamp AT TIME ZONE " + tz + ") - interval '1 day' AND " +
		c + " < ((" + to + "::date + 2)::timestamp AT TIME ZONE " + tz + ") AND " +
		localDay(alias, tz) + " BETWEEN " + from + "::date AND " + to + "::date"
}

// excludedCurrencies lists the currencies other than the workspace's of valid orders, ad
// rows and sessions in w: what the report leaves out because its money cannot be added
// (or, for sessions, because the orders they convert into are left out).
func (q *Queries) excludedCurrencies(ctx context.Context, ws Workspace, w channels.Window) ([]string, error) {
	rows, err := q.db.Query(ctx, `
		SELECT currency::text FROM orders o
		WHERE o.workspace_id = $1 AND o.currency <> $4 AND `+validOrder("o")+` AND `+createdInDays("o", "$2", "$3", "$5::text")+`
		UNION
		SELECT currency::text FROM ad_metrics_daily
		WHERE workspace_id = $1 AND currency <> $4 AND date BETWEEN $2::date AND $3::date
		UNION
		SELECT currency::text FROM sessions_daily
		WHERE workspace_id = $1 AND currency <> $4 AND date BETWEEN $2::date AND $3::date
		ORDER BY 1`,
		ws.ID, day(w.From), day(w.To), ws.Currency, ws.Timezone)
	if err != nil {
		return nil, fmt.Errorf("excluded currencies %s: %w", w, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("excluded currencies %s: %w", w, err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// orderHistoryFrom is the workspace day of the earliest order held for the workspace, of
// any status, or nil when there is none.
func (q *Queries) orderHistoryFrom(ctx context.Context, ws Workspace) (*time.Time, error) {
	var from *time.Time
	err := q.db.QueryRow(ctx, `SELECT (min(created_at) AT TIME ZONE $2::text)::date FROM orders WHERE workspace_id = $1`,
		ws.ID, ws.Timezone).Scan(&from)
	if err != nil {
		return nil, fmt.Errorf("order history of workspace %s: %w", ws.ID, err)
	}
	return from, nil
}
