// Command loadpath measures the ad-metrics load path against a fresh local database.
//
// It creates a migrated database with testdb.Create (the local trust-auth PostgreSQL on
// 127.0.0.1:5432, or TEST_DATABASE_URL), generates N deterministic ad rows and times:
//
//	(a) one plain CopyFrom of the N rows into an empty copy of ad_metrics_daily,
//	(b) store.MergeAdRows into the empty ad_metrics_daily, one transaction per -page rows,
//	(c) the same merge again (every row conflicts, nothing changes: an idempotent re-sync),
//	(d) the same merge with every row's spend changed (a provider restatement),
//	(e) store.MergeAdRows of all N rows in one transaction into the emptied table.
//
// After each step it checks the row count, the spend sum and how many rows the step
// rewrote, and exits non-zero if any of them is wrong. The database is dropped at the end.
//
//	go run ./bench/loadpath -rows 1000000 -page 1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

const (
	workspaceID  = "00000000-0000-4000-8000-0000000000a1"
	connectionID = "00000000-0000-4000-8000-0000000000c1"
	accountID    = "1234567890"
	adsPerAdSet  = 4
	adSetsPerCmp = 5
)

func main() {
	rowsN := flag.Int("rows", 1_000_000, "number of ad rows (ads x days)")
	page := flag.Int("page", 1000, "rows per transaction for the paged merges (one provider page)")
	days := flag.Int("days", 365, "days per ad; the number of ads is rows/days")
	seed := flag.Uint64("seed", 1, "seed of the deterministic row generator")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if *rowsN < 1 || *rowsN > 20_000_000 || *page < 1 || *days < 1 || *days > 3650 {
		fmt.Fprintln(os.Stderr, "loadpath: want 1 <= -rows <= 20000000, -page >= 1, 1 <= -days <= 3650")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	err := run(ctx, *rowsN, *page, *days, *seed)
	cancelTimeout()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadpath: FAIL:", err)
		os.Exit(1)
	}
}

// result is one line of the output table.
type result struct {
	method  string
	rows    int
	seconds float64
}

func run(ctx context.Context, n, page, days int, seed uint64) error {
	dbURL, drop, err := testdb.Create(ctx)
	if err != nil {
		return err
	}
	defer drop()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()

	facts, err := machineFacts(ctx, st)
	if err != nil {
		return err
	}
	if err := seedParents(ctx, st); err != nil {
		return err
	}
	if _, err := st.Pool.Exec(ctx, `CREATE TABLE ad_metrics_copy (LIKE ad_metrics_daily INCLUDING ALL);
		ALTER TABLE ad_metrics_copy
			ADD FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE,
			ADD FOREIGN KEY (connection_id) REFERENCES connections(id) ON DELETE CASCADE`); err != nil {
		return fmt.Errorf("create copy table: %w", err)
	}

	genStart := time.Now()
	rows, baseSpend := generate(n, days, seed)
	fmt.Fprintf(os.Stderr, "generated %d rows (%d ads x up to %d days) in %s\n",
		len(rows), (n+days-1)/days, days, time.Since(genStart).Round(time.Millisecond))

	var results []result
	step := func(name, table string, wantSpend int64, wantRewritten int, fn func() error) error {
		if err := settle(ctx, st, table); err != nil {
			return err
		}
		var mark time.Time
		if err := st.Pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&mark); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s ...\n", name)
		start := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		el := time.Since(start).Seconds()
		if err := verify(ctx, st, table, n, wantSpend, mark, wantRewritten); err != nil {
			return fmt.Errorf("%s: verification failed: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "%s: %.2fs, %.0f rows/s, verified\n", name, el, float64(n)/el)
		results = append(results, result{method: name, rows: n, seconds: el})
		return nil
	}
	paged := func() error { return mergePaged(ctx, st, rows, page) }

	// (a) plain COPY of all rows, one statement.
	if err := step("(a) plain CopyFrom, 1 tx", "ad_metrics_copy", baseSpend, n, func() error {
		return plainCopy(ctx, st, rows)
	}); err != nil {
		return err
	}
	// (b) paged merge into the empty table.
	if err := step(fmt.Sprintf("(b) MergeAdRows into empty table, %d rows/tx", page), "ad_metrics_daily",
		baseSpend, n, paged); err != nil {
		return err
	}
	// (c) identical re-sync: every row conflicts, none is rewritten.
	if err := step(fmt.Sprintf("(c) MergeAdRows re-sync, unchanged, %d rows/tx", page), "ad_metrics_daily",
		baseSpend, 0, paged); err != nil {
		return err
	}
	// (d) restatement: every row's spend changes by one micro.
	for i := range rows {
		rows[i].SpendMicros++
	}
	if err := step(fmt.Sprintf("(d) MergeAdRows restatement, all changed, %d rows/tx", page), "ad_metrics_daily",
		baseSpend+int64(n), n, paged); err != nil {
		return err
	}
	for i := range rows {
		rows[i].SpendMicros--
	}
	// (e) one transaction with every row, into the emptied table (compare with (a) and (b)).
	if _, err := st.Pool.Exec(ctx, `TRUNCATE ad_metrics_daily`); err != nil {
		return err
	}
	if err := step("(e) MergeAdRows into empty table, 1 tx", "ad_metrics_daily", baseSpend, n, func() error {
		return mergePaged(ctx, st, rows, len(rows))
	}); err != nil {
		return err
	}

	// (f), (g): the sync path as SyncWindow commits it: the attempt's writer fence checked
	// under the run's row lock, the merge, the keys read recorded for the window's
	// replacement, the run's cursor and counters, and on the last page the removal of the
	// window's rows the read did not return (none here). Compare with (c) and (b).
	if err := step(fmt.Sprintf("(f) CommitAdPage window re-read, unchanged, %d rows/tx", page), "ad_metrics_daily",
		baseSpend, 0, func() error { return commitPaged(ctx, st, rows, page, "f") }); err != nil {
		return err
	}
	if _, err := st.Pool.Exec(ctx, `TRUNCATE ad_metrics_daily`); err != nil {
		return err
	}
	if err := step(fmt.Sprintf("(g) CommitAdPage window read into empty table, %d rows/tx", page), "ad_metrics_daily",
		baseSpend, n, func() error { return commitPaged(ctx, st, rows, page, "g") }); err != nil {
		return err
	}

	printReport(facts, n, page, days, seed, results)
	return nil
}

// generate returns n deterministic rows: ads (4 per ad set, 5 ad sets per campaign) x days,
// date-major like a provider report over a window, and the sum of their spend.
func generate(n, days int, seed uint64) ([]channels.AdRow, int64) {
	type ad struct {
		campaignID, campaignName, adSetID, adSetName, adID, adName string
		spendScale                                                 int64
	}
	nAds := (n + days - 1) / days
	r := rand.New(rand.NewPCG(seed, 0x6f6d6e69))
	ads := make([]ad, nAds)
	for i := range ads {
		c := i / (adsPerAdSet * adSetsPerCmp)
		s := i / adsPerAdSet
		ads[i] = ad{
			campaignID:   fmt.Sprintf("2385%011d", 1000+c),
			campaignName: fmt.Sprintf("Prospecting | US | Campaign %d", c),
			adSetID:      fmt.Sprintf("2386%011d", 5000+s),
			adSetName:    fmt.Sprintf("Lookalike %d%% | 25-54 | Ad set %d", 1+s%10, s),
			adID:         fmt.Sprintf("2387%011d", 90000+i),
			adName:       fmt.Sprintf("Video %d - Hook %c - v%d", i, 'A'+rune(i%6), 1+i%3),
			spendScale:   1 + r.Int64N(200), // daily budget in dollars
		}
	}
	first := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]channels.AdRow, 0, n)
	var spendSum int64
	for d := 0; d < days && len(rows) < n; d++ {
		date := first.AddDate(0, 0, d)
		for i := 0; i < nAds && len(rows) < n; i++ {
			a := &ads[i]
			spend := r.Int64N(a.spendScale * 1_000_000)             // micros
			impressions := spend / 1_000_000 * (80 + r.Int64N(120)) // CPM ~ $5-12
			clicks := impressions * (5 + r.Int64N(25)) / 1000       // CTR 0.5-3%
			conversionsMicros := clicks * r.Int64N(80_000)          // CVR up to 8%, fractional
			valueMicros := conversionsMicros * 45                   // $45 per conversion
			rows = append(rows, channels.AdRow{
				Channel:               channels.Meta,
				AccountID:             accountID,
				CampaignID:            a.campaignID,
				CampaignName:          a.campaignName,
				AdSetID:               a.adSetID,
				AdSetName:             a.adSetName,
				AdID:                  a.adID,
				AdName:                a.adName,
				Date:                  date,
				Currency:              "USD",
				SpendMicros:           spend,
				Impressions:           impressions,
				Clicks:                clicks,
				ConversionsMicros:     conversionsMicros,
				ConversionValueMicros: valueMicros,
			})
			spendSum += spend
		}
	}
	return rows, spendSum
}

// seedParents inserts the workspace and connection the rows reference.
func seedParents(ctx context.Context, st *store.Store) error {
	_, err := st.Pool.Exec(ctx, `INSERT INTO workspaces (id, name) VALUES ($1, 'loadpath bench')`, workspaceID)
	if err != nil {
		return fmt.Errorf("insert workspace: %w", err)
	}
	_, err = st.Pool.Exec(ctx, `
		INSERT INTO connections (id, workspace_id, channel, external_account_id, display_name, token_ciphertext)
		VALUES ($1, $2, 'meta', $3, 'bench account', '\x00'::bytea)`, connectionID, workspaceID, accountID)
	if err != nil {
		return fmt.Errorf("insert connection: %w", err)
	}
	return nil
}

var copyColumns = []string{
	"workspace_id", "connection_id", "channel", "account_id", "campaign_id", "campaign_name", "adset_id",
	"adset_name", "ad_id", "ad_name", "date", "currency", "spend_micros", "impressions", "clicks",
	"conversions", "conversion_value_micros",
}

// plainCopy loads all rows with one CopyFrom, encoding values the way MergeAdRows does.
func plainCopy(ctx context.Context, st *store.Store, rows []channels.AdRow) error {
	var ws, conn pgtype.UUID
	if err := ws.Scan(workspaceID); err != nil {
		return err
	}
	if err := conn.Scan(connectionID); err != nil {
		return err
	}
	return st.InTx(ctx, func(tx pgx.Tx) error {
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{
				ws, conn, string(r.Channel), r.AccountID, r.CampaignID, r.CampaignName, r.AdSetID, r.AdSetName,
				r.AdID, r.AdName, pgtype.Date{Time: r.Date, Valid: true}, r.Currency, r.SpendMicros,
				r.Impressions, r.Clicks, pgtype.Numeric{Int: big.NewInt(r.ConversionsMicros), Exp: -6, Valid: true},
				r.ConversionValueMicros,
			}, nil
		})
		got, err := tx.CopyFrom(ctx, pgx.Identifier{"ad_metrics_copy"}, copyColumns, src)
		if err != nil {
			return err
		}
		if got != int64(len(rows)) {
			return fmt.Errorf("copied %d rows, want %d", got, len(rows))
		}
		return nil
	})
}

// mergePaged merges rows with store.MergeAdRows, committing once per page, like the sync path.
func mergePaged(ctx context.Context, st *store.Store, rows []channels.AdRow, page int) error {
	for off := 0; off < len(rows); off += page {
		end := min(off+page, len(rows))
		err := st.InTx(ctx, func(tx pgx.Tx) error {
			got, err := store.MergeAdRows(ctx, tx, workspaceID, connectionID, rows[off:end])
			if err != nil {
				return err
			}
			if got != int64(end-off) {
				return fmt.Errorf("merged %d rows, want %d", got, end-off)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("page at row %d: %w", off, err)
		}
	}
	return nil
}

// commitPaged reads rows as one window read of a sync run: store.CommitAdPage per page, the
// last page completing the read.
func commitPaged(ctx context.Context, st *store.Store, rows []channels.AdRow, page int, runID string) error {
	w := channels.Window{From: rows[0].Date, To: rows[0].Date}
	for _, r := range rows {
		if r.Date.Before(w.From) {
			w.From = r.Date
		}
		if r.Date.After(w.To) {
			w.To = r.Date
		}
	}
	run, err := st.StartSyncRun(ctx, store.NewSyncRun{WorkspaceID: workspaceID, ConnectionID: connectionID,
		Channel: "meta", Kind: "backfill", WorkflowID: "bench", RunID: runID, Window: w})
	if err != nil {
		return err
	}
	claim, err := st.ClaimSyncRun(ctx, run.ID)
	if err != nil {
		return err
	}
	for off := 0; off < len(rows); off += page {
		end := min(off+page, len(rows))
		next := fmt.Sprintf("page-%d", end)
		if end == len(rows) {
			next = ""
		}
		if run, err = st.CommitAdPage(ctx, run, claim, rows[off:end], next); err != nil {
			return fmt.Errorf("page at row %d: %w", off, err)
		}
	}
	if run.ReadCompletedAt == nil || run.RowsRemoved != 0 {
		return fmt.Errorf("read completed %v with %d rows removed, want completed with 0", run.ReadCompletedAt, run.RowsRemoved)
	}
	return nil
}

// settle vacuums and checkpoints between steps (untimed), as autovacuum would between syncs,
// so that one step's dead rows and dirty pages are not billed to the next.
func settle(ctx context.Context, st *store.Store, table string) error {
	if _, err := st.Pool.Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{table}.Sanitize()); err != nil {
		return fmt.Errorf("vacuum %s: %w", table, err)
	}
	if _, err := st.Pool.Exec(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint (needs a superuser or pg_checkpoint): %w", err)
	}
	return nil
}

// verify checks the row count, the spend sum and how many rows were written after mark.
func verify(ctx context.Context, st *store.Store, table string, n int, wantSpend int64, mark time.Time, wantRewritten int) error {
	var count, spend, rewritten int64
	err := st.Pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(spend_micros), 0)::bigint,
		count(*) FILTER (WHERE synced_at >= $1) FROM `+pgx.Identifier{table}.Sanitize(), mark).
		Scan(&count, &spend, &rewritten)
	if err != nil {
		return err
	}
	var problems []string
	if count != int64(n) {
		problems = append(problems, fmt.Sprintf("%d rows, want %d", count, n))
	}
	if spend != wantSpend {
		problems = append(problems, fmt.Sprintf("spend sum %d, want %d", spend, wantSpend))
	}
	if rewritten != int64(wantRewritten) {
		problems = append(problems, fmt.Sprintf("%d rows written by this step, want %d", rewritten, wantRewritten))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

type facts struct {
	nproc    int
	pg       string
	goVer    string
	settings string
}

func machineFacts(ctx context.Context, st *store.Store) (facts, error) {
	f := facts{nproc: runtime.NumCPU(), goVer: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if err := st.Pool.QueryRow(ctx, `SELECT version()`).Scan(&f.pg); err != nil {
		return f, err
	}
	err := st.Pool.QueryRow(ctx, `SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
		FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level',
			'max_wal_size', 'temp_buffers', 'work_mem', 'full_page_writes')`).Scan(&f.settings)
	return f, err
}

func printReport(f facts, n, page, days int, seed uint64, results []result) {
	fmt.Printf("command: go run ./bench/loadpath -rows %d -page %d -days %d -seed %d\n\n", n, page, days, seed)
	fmt.Printf("- date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("- nproc: %d\n", f.nproc)
	fmt.Printf("- PostgreSQL: %s\n", f.pg)
	fmt.Printf("- PostgreSQL settings: %s\n", f.settings)
	fmt.Printf("- Go: %s\n\n", f.goVer)
	fmt.Println("| method | rows | seconds | rows/s | time vs plain COPY |")
	fmt.Println("|---|---:|---:|---:|---:|")
	base := results[0].seconds
	for _, r := range results {
		fmt.Printf("| %s | %d | %.2f | %.0f | %.2fx |\n", r.method, r.rows, r.seconds, float64(r.rows)/r.seconds, r.seconds/base)
	}
}
