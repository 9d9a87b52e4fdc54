// Package activities holds the activity implementations. Each activity struct carries its
// dependencies; activities are at-least-once, so every write they make is idempotent.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Error types the workflows name in their retry policies.
const (
	ErrTypeConnectionNotFound = "ConnectionNotFound"
	ErrTypeNeedsReauth        = "NeedsReauth"
	ErrTypeProviderAuth       = "ProviderAuth"
	ErrTypeProviderBadRequest = "ProviderBadRequest"
	ErrTypeProviderRateLimit  = "ProviderRateLimited"
	ErrTypeProviderThrottled  = "ProviderThrottled"
	ErrTypeProviderTransient  = "ProviderTransient"
	ErrTypeInvalidInput       = "InvalidInput"
	// ErrTypeMissingScope: the token lacks a scope the read needs (Shopify's
	// read_all_orders for orders older than 60 days); reconnecting with it is the fix.
	ErrTypeMissingScope = "MissingScope"
	// ErrTypeProviderUnavailable: the account is out of service (a frozen or locked shop).
	ErrTypeProviderUnavailable = "ProviderUnavailable"
	// ErrTypePaymentRequired: the workspace is suspended for an unpaid invoice (EnforcePlans).
	ErrTypePaymentRequired = "PaymentRequired"
)

// NonRetryableErrorTypes are failures that another attempt cannot fix.
var NonRetryableErrorTypes = []string{
	ErrTypeConnectionNotFound, ErrTypeNeedsReauth, ErrTypeProviderAuth, ErrTypeProviderBadRequest, ErrTypeInvalidInput,
	ErrTypeMissingScope, ErrTypeProviderUnavailable, ErrTypePaymentRequired,
}

// kindIncremental is workflows.KindIncremental (that package imports this one).
const kindIncremental = "incremental"

// lookbackDays is how far before the cursor an incremental sync re-reads, per channel,
// because providers restate recent days: Meta up to 28 days, Google Ads conversions settle
// within 14, TikTok within 7, GA4 processes for 24-48 hours. Shopify is read by update
// time instead, so edits and refunds of any age come back by themselves.
func lookbackDays(ch channels.Channel) int {
	switch ch {
	case channels.Meta:
		return 28
	case channels.GoogleAds:
		return 14
	case channels.TikTok:
		return 7
	case channels.GA4:
		return 2
	}
	return 0
}

// firstOrdersSyncDays is how much order history an incremental orders sync reads when the
// connection has no cursor yet.
const firstOrdersSyncDays = 90

// Sync is the set of sync activities.
type Sync struct {
	Store      *store.Store
	Connectors channels.Registry
	Box        *secretbox.Box
	Temporal   client.Client
	Logger     *slog.Logger
	// Now is the clock used for "today"; nil means time.Now.
	Now func() time.Time
	// MaxPagesPerCall bounds one SyncWindow call so the workflow's progress query moves.
	MaxPagesPerCall int
	// MaxInlineWait is the longest provider-requested wait served by sleeping inside the
	// activity; longer ones end the call and the workflow waits on a timer, so no slot is held.
	MaxInlineWait time.Duration
	// HeartbeatEvery is how often SyncWindow heartbeats while it works; 0 means 5 s.
	HeartbeatEvery time.Duration
	// Refresher refreshes provider tokens for TokenRefresh; nil means tokens are not refreshed.
	Refresher TokenRefresher
	// Mailer sends the needs_reauth notice to the workspace's owner and admins; nil means none.
	Mailer notify.Mailer
	// AppURL is the web app the notice links to (config Identity.AppURL).
	AppURL string
	// EnforcePlans applies each workspace's plan and billing standing to its syncs; set it
	// when billing is configured. Without it (a self-hosted install without Stripe) there
	// are no limits. See checkPlan.
	EnforcePlans bool
	// recordHeartbeat is activity.RecordHeartbeat, replaced in tests to count heartbeats
	// (the SDK throttles what it sends to the server).
	recordHeartbeat func(ctx context.Context, details ...any)
}

// PrepareInput identifies the run being prepared.
type PrepareInput struct {
	WorkspaceID  string
	ConnectionID string
	Kind         string
	From         string
	To           string
	WorkflowID   string
	RunID        string
}

// PrepareResult tells the workflow what to read, or that another sync holds the connection.
type PrepareResult struct {
	SyncRunID string
	Channel   string
	From      string
	To        string
	Skipped   bool
	HeldBy    string
	// Reason says why a run was skipped when no other sync held the connection: the
	// workspace's plan or standing (EnforcePlans).
	Reason string
}

// PrepareSync loads the connection, takes its one-sync-at-a-time lock (incremental syncs),
// computes the window in the account's timezone and records the sync_runs row.
func (a *Sync) PrepareSync(ctx context.Context, in PrepareInput) (PrepareResult, error) {
	conn, err := a.Store.GetConnection(ctx, in.WorkspaceID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return PrepareResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s not found in workspace %s", in.ConnectionID, in.WorkspaceID), ErrTypeConnectionNotFound, err)
	}
	if err != nil {
		return PrepareResult{}, err
	}
	if conn.Status == store.ConnectionDisconnected {
		return PrepareResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s is disconnected", conn.ID), ErrTypeConnectionDisconnected, nil)
	}
	if conn.Status == store.ConnectionDisabled {
		// The provider revoked the grant (Shopify app uninstalled); the tokens are gone, so
		// a sync could only fail. Reconnecting through OAuth brings it back.
		return PrepareResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s is disabled: %s", conn.ID, conn.StatusReason), ErrTypeConnectionDisconnected, nil)
	}
	if conn.Status == store.ConnectionNeedsReauth {
		// Catches up on a notice whose sending failed when the connection was flagged.
		if _, nerr := a.notifyReauth(ctx, conn.WorkspaceID, conn.ID); nerr != nil {
			a.logger().Warn("needs_reauth notice", "connection_id", conn.ID, "err", nerr)
		}
		return PrepareResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s needs to be reconnected: %s", conn.ID, conn.StatusReason), ErrTypeNeedsReauth, nil)
	}
	if a.EnforcePlans {
		// Before the lock and the run's row: a run the plan stops leaves neither behind.
		if res, stop, err := a.checkPlan(ctx, conn, in); stop || err != nil {
			return res, err
		}
	}
	window, err := a.window(conn, in)
	if err != nil {
		return PrepareResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
	}
	if in.Kind == kindIncremental {
		ok, holder, err := a.Store.AcquireSyncLock(ctx, conn.ID, in.WorkflowID, a.holderFinished)
		if err != nil {
			return PrepareResult{}, err
		}
		if !ok {
			return PrepareResult{Channel: conn.Channel, Skipped: true, HeldBy: holder}, nil
		}
	}
	if in.Kind != kindIncremental {
		if err := a.checkHistory(ctx, conn, window); err != nil {
			return PrepareResult{}, err
		}
	}
	var updatedMin *time.Time
	if _, ok := a.Connectors.Orders[channels.Channel(conn.Channel)]; ok && in.Kind == kindIncremental {
		updatedMin = ordersUpdatedMin(conn, in.Kind, window)
		// The window is only informative for incremental orders reads: they cover every
		// update since updatedMin. Backfills read the orders created in the window's days.
		window.From = civilDay(updatedMin.In(location(conn.Timezone)))
	}
	run, err := a.Store.StartSyncRun(ctx, store.NewSyncRun{
		WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, Channel: conn.Channel, Kind: in.Kind,
		WorkflowID: in.WorkflowID, RunID: in.RunID, Window: window, UpdatedMin: updatedMin,
	})
	if err != nil {
		return PrepareResult{}, err
	}
	return PrepareResult{
		SyncRunID: run.ID, Channel: conn.Channel,
		From: run.WindowFrom.Format(channels.DateLayout), To: run.WindowTo.Format(channels.DateLayout),
	}, nil
}

// checkHistory fails a backfill window at once, non-retryably, when the connection's token
// does not read back to the window's first day: the provider would silently return nothing
// older (Shopify without read_all_orders), and the backfill would look complete.
func (a *Sync) checkHistory(ctx context.Context, conn store.Connection, w channels.Window) error {
	hr, ok := a.Connectors.Orders[channels.Channel(conn.Channel)].(channels.HistoryReader)
	if !ok {
		return nil
	}
	acct, err := a.account(conn)
	if err != nil {
		return err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	h, err := hr.History(ctx, acct, now())
	if err != nil {
		return a.classify(ctx, conn, err)
	}
	if h.From.IsZero() || !w.From.Before(civilDay(h.From.In(location(conn.Timezone)))) {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"backfill window %s needs the %s scope: without it %s returns only the orders created since %s; "+
			"reconnect the account with a token granted %s", w, h.Scope, conn.Channel,
		h.From.In(location(conn.Timezone)).Format(channels.DateLayout), h.Scope), ErrTypeMissingScope, nil)
}

// window is [cursor - lookback, today] in the account's timezone for incremental syncs and
// the requested days for backfills, never further back than the provider keeps data.
func (a *Sync) window(conn store.Connection, in PrepareInput) (channels.Window, error) {
	loc := location(conn.Timezone)
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	y, m, d := now().In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	earliest := today.AddDate(0, 0, -channels.RetentionDays)
	if in.Kind != kindIncremental {
		w, err := channels.ParseWindow(in.From, in.To)
		if err != nil {
			return channels.Window{}, err
		}
		if w.To.After(today) {
			w.To = today
		}
		if w.From.Before(earliest) {
			w.From = earliest
		}
		if w.From.After(w.To) {
			return channels.Window{}, fmt.Errorf("window %s..%s is outside the provider's data (%s..%s)",
				in.From, in.To, earliest.Format(channels.DateLayout), today.Format(channels.DateLayout))
		}
		return w, nil
	}
	back := lookbackDays(channels.Channel(conn.Channel))
	if _, orders := a.Connectors.Orders[channels.Channel(conn.Channel)]; orders && conn.CursorUpdatedAt == nil {
		back = firstOrdersSyncDays
	}
	from := today.AddDate(0, 0, -back)
	if conn.CursorDate != nil {
		c := conn.CursorDate.UTC()
		from = time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -back)
	}
	if from.After(today) {
		from = today
	}
	if from.Before(earliest) {
		from = earliest
	}
	return channels.Window{From: from, To: today}, nil
}

// ordersCursorOverlap is how far before the connection's updated_at cursor an incremental
// orders read starts. Shopify stamps updated_at when a write starts, but the order becomes
// visible to reads only when the write commits: an order stamped a moment before the
// cursor can be committed after the read that set the cursor, and would never be read.
// Five minutes is far above that commit lag; the orders re-read are upserted by id.
const ordersCursorOverlap = 5 * time.Minute

// ordersUpdatedMin is where an orders read starts: ordersCursorOverlap before the
// connection's updated_at cursor for an incremental sync (inclusive; duplicates are
// upserted), else the window's first day at midnight in the shop's timezone.
func ordersUpdatedMin(conn store.Connection, kind string, w channels.Window) *time.Time {
	if kind == kindIncremental && conn.CursorUpdatedAt != nil {
		t := conn.CursorUpdatedAt.Add(-ordersCursorOverlap)
		return &t
	}
	y, m, d := w.From.Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, location(conn.Timezone))
	return &t
}

// ordersCreatedRange is the creation times a backfill window of days covers in the shop's
// timezone: from its first midnight to the last instant of its last day.
func ordersCreatedRange(w channels.Window, loc *time.Location) (time.Time, time.Time) {
	y, m, d := w.From.Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, loc)
	y, m, d = w.To.Date()
	to := time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
	return from, to
}

func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// civilDay is t's calendar day as midnight UTC, the form windows use.
func civilDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// holderFinished reports whether the workflow holding a connection's lock has closed, so a
// lock left by a terminated run does not block the connection forever.
func (a *Sync) holderFinished(ctx context.Context, workflowID string) (bool, error) {
	resp, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return resp.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// SyncWindowInput names the run whose window is read.
type SyncWindowInput struct {
	WorkspaceID string
	SyncRunID   string
}

// SyncWindowResult is the run's progress after this call. A call that met the provider's
// rate limit returns normally with Wait set: waiting for a provider is not a failure, so the
// workflow sleeps it out on a timer and calls again, and the retry budget is left for real
// failures.
type SyncWindowResult struct {
	Pages int
	Rows  int64
	Done  bool
	// Wait is how long the provider asked us to pause before the next call.
	Wait time.Duration
	// WaitReason says what is waited for, e.g. "Meta rate limit".
	WaitReason string
}

// MaxStalledAttempts is how many attempts in a row may fail or die without moving the read
// before the window gives up. An attempt that committed anything resets the count, so a
// long window on a flaky worker fleet still finishes.
const MaxStalledAttempts = 10

// ErrTypeInterrupted is an attempt stopped from outside after it had committed pages.
const ErrTypeInterrupted = "Interrupted"

// ErrTypeNoProgress ends a window whose attempts keep failing without moving the read.
const ErrTypeNoProgress = "NoProgress"

// callBudget is how long one SyncWindow call keeps starting new pages.
const callBudget = 5 * time.Minute

// defaultHeartbeatEvery is how often SyncWindow heartbeats while it works, well inside the
// workflow's heartbeat timeout, whatever the provider call or merge in flight.
const defaultHeartbeatEvery = 5 * time.Second

// readPosition is the heartbeat detail of SyncWindow: the provider cursor and how many
// pages were committed when it was recorded. Never rows.
type readPosition struct {
	Cursor string
	Pages  int
	Rows   int64
}

// SyncWindow reads pages of the run's window from the provider and commits each page with
// its cursor in one transaction. It resumes from the newest of the heartbeat cursor and the
// committed cursor, so a worker that dies mid-window costs at most one page of re-reading.
// Each attempt first claims the run, so an attempt Temporal presumed dead can no longer
// write once its successor started.
func (a *Sync) SyncWindow(ctx context.Context, in SyncWindowInput) (SyncWindowResult, error) {
	run, err := a.Store.GetSyncRun(ctx, in.SyncRunID)
	if err != nil || run.WorkspaceID != in.WorkspaceID {
		return SyncWindowResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("sync run %s not found", in.SyncRunID), ErrTypeInvalidInput, err)
	}
	if run.ReadCompletedAt != nil {
		return SyncWindowResult{Pages: run.Pages, Rows: run.RowsWritten, Done: true}, nil
	}
	claim, err := a.Store.ClaimSyncRun(ctx, run.ID)
	if err != nil {
		return SyncWindowResult{}, err
	}
	if claim.Stalled >= MaxStalledAttempts {
		last := claim.LastError
		if last == "" {
			last = "the worker stopped (lost heartbeat)"
		}
		return SyncWindowResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"window %s..%s gave up after %d attempts in a row that read nothing: %s",
			run.WindowFrom.Format(channels.DateLayout), run.WindowTo.Format(channels.DateLayout), claim.Stalled, last),
			ErrTypeNoProgress, nil)
	}
	pos := readPosition{Cursor: run.PageCursor, Pages: run.Pages, Rows: run.RowsWritten}
	if activity.HasHeartbeatDetails(ctx) {
		var hb readPosition
		if err := activity.GetHeartbeatDetails(ctx, &hb); err == nil && hb.Pages > pos.Pages {
			pos = hb
		}
	}
	every := a.HeartbeatEvery
	if every <= 0 {
		every = defaultHeartbeatEvery
	}
	record := a.recordHeartbeat
	if record == nil {
		record = activity.RecordHeartbeat
	}
	hb := startHeartbeat(ctx, pos, every, record)
	defer hb.stop()

	res, progressed, err := a.readPages(ctx, run, claim, pos, hb)
	if err != nil {
		if errors.Is(err, store.ErrSuperseded) {
			return res, err
		}
		if ctx.Err() != nil {
			if progressed {
				// Stopped (a worker shutting down, say) after committing pages: this attempt
				// was not failing, so the next one need not back off as if it were.
				return res, temporal.NewApplicationErrorWithOptions(
					fmt.Sprintf("interrupted after page %d: %v", res.Pages, ctx.Err()), ErrTypeInterrupted,
					temporal.ApplicationErrorOptions{NextRetryDelay: time.Second})
			}
			return res, err
		}
		if !progressed && claim.Stalled+1 >= MaxStalledAttempts && isRetryable(err) {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"window %s..%s gave up after %d attempts in a row that read nothing: %v",
				run.WindowFrom.Format(channels.DateLayout), run.WindowTo.Format(channels.DateLayout), claim.Stalled+1, err),
				ErrTypeNoProgress, err)
		}
		// Best effort: the message only explains a later give-up.
		if rerr := a.Store.RecordAttemptError(context.WithoutCancel(ctx), claim, httpx.HideAddresses(err.Error())); rerr != nil {
			a.logger().Warn("record attempt error", "sync_run", run.ID, "err", rerr)
		}
		return res, err
	}
	if err := a.Store.ReleaseSyncRunClaim(ctx, claim); err != nil {
		return res, err
	}
	return res, nil
}

// readPages reads and commits pages until the window is read, the call has read its share of
// pages, or the provider asks for a pause longer than is worth holding a worker slot for.
// progressed reports whether the call committed anything, even when it then failed.
func (a *Sync) readPages(ctx context.Context, run store.SyncRun, claim store.Claim, pos readPosition, hb *heartbeat) (res SyncWindowResult, progressed bool, err error) {
	conn, err := a.Store.GetConnection(ctx, run.WorkspaceID, run.ConnectionID)
	if err != nil {
		return SyncWindowResult{}, false, fmt.Errorf("load connection %s: %w", run.ConnectionID, err)
	}
	acct, err := a.account(conn)
	if err != nil {
		return SyncWindowResult{}, false, err
	}
	read, err := a.pageSource(conn, run, acct, claim)
	if err != nil {
		return SyncWindowResult{}, false, err
	}
	log := a.logger().With("sync_run", run.ID, "connection", conn.ID, "channel", conn.Channel,
		"window", channels.Window{From: run.WindowFrom, To: run.WindowTo}.String())
	if pos.Cursor != "" {
		log.Info("resuming window", "pages_done", pos.Pages)
	}

	maxPages := a.MaxPagesPerCall
	if maxPages <= 0 {
		maxPages = 25
	}
	// A call also ends after callBudget, so the slowest legitimate call (pages at the
	// connectors' 2-minute HTTP timeout) stays well inside SyncWindow's start-to-close timeout.
	callEnds := time.Now().Add(callBudget)
	pagesThisCall := 0
	for {
		page, err := read(ctx, pos.Cursor)
		if err != nil {
			if pe, ok := channels.AsError(err); ok && pe.Kind == channels.KindRateLimited && ctx.Err() == nil {
				log.Info("provider rate limit", "wait", pe.RetryAfter, "err", pe.Message)
				return a.waitResult(pos, conn.Channel, pe.RetryAfter), progressed, nil
			}
			return a.result(pos), progressed, a.classify(ctx, conn, err)
		}
		if page.rows > 0 || page.next == "" {
			run, err = page.commit(ctx, run)
			if err != nil {
				return a.result(pos), progressed, err
			}
			pagesThisCall++
			progressed = true
			pos = readPosition{Cursor: page.next, Pages: run.Pages, Rows: run.RowsWritten}
		} else if page.next != pos.Cursor {
			if err := a.Store.SaveSyncCursor(ctx, claim, page.next); err != nil {
				return a.result(pos), progressed, err
			}
			pos.Cursor = page.next
			progressed = true
		}
		hb.record(pos)
		if page.next == "" {
			log.Info("window read", "pages", pos.Pages, "rows", pos.Rows, "rows_removed", run.RowsRemoved)
			return SyncWindowResult{Pages: pos.Pages, Rows: pos.Rows, Done: true}, progressed, nil
		}
		if page.wait > 0 {
			if page.wait > a.maxInlineWait() {
				return a.waitResult(pos, conn.Channel, page.wait), progressed, nil
			}
			if err := sleepCtx(ctx, page.wait); err != nil {
				return a.result(pos), progressed, err
			}
		}
		if pagesThisCall >= maxPages || time.Now().After(callEnds) {
			return a.result(pos), progressed, nil
		}
	}
}

func (a *Sync) result(pos readPosition) SyncWindowResult {
	return SyncWindowResult{Pages: pos.Pages, Rows: pos.Rows}
}

// waitResult ends the call asking the workflow to wait d for the channel's rate limit.
func (a *Sync) waitResult(pos readPosition, channel string, d time.Duration) SyncWindowResult {
	if d < time.Second {
		d = time.Second
	}
	return SyncWindowResult{Pages: pos.Pages, Rows: pos.Rows, Wait: d, WaitReason: ProviderName(channel) + " rate limit"}
}

// maxInlineWait is the longest provider-requested pause served by sleeping inside the
// activity; longer ones end the call so the workflow waits on a timer and no slot is held.
func (a *Sync) maxInlineWait() time.Duration {
	if a.MaxInlineWait > 0 {
		return a.MaxInlineWait
	}
	return 30 * time.Second
}

// ProviderName is how people name a channel's provider.
func ProviderName(channel string) string {
	switch channels.Channel(channel) {
	case channels.Meta:
		return "Meta"
	case channels.GoogleAds:
		return "Google Ads"
	case channels.TikTok:
		return "TikTok"
	case channels.Shopify:
		return "Shopify"
	case channels.GA4:
		return "GA4"
	}
	return channel
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// heartbeat records the latest read position at a fixed interval from its own goroutine,
// so a provider call or a merge that outlasts the heartbeat timeout does not make Temporal
// presume the attempt dead and start a second one beside it.
type heartbeat struct {
	mu   sync.Mutex
	pos  readPosition
	done chan struct{}
	wg   sync.WaitGroup
}

func startHeartbeat(ctx context.Context, pos readPosition, every time.Duration, record func(context.Context, ...any)) *heartbeat {
	h := &heartbeat{pos: pos, done: make(chan struct{})}
	record(ctx, pos)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				p := h.pos
				h.mu.Unlock()
				record(ctx, p)
			}
		}
	}()
	return h
}

// record makes pos the position the next heartbeat reports, and reports it now.
func (h *heartbeat) record(pos readPosition) {
	h.mu.Lock()
	h.pos = pos
	h.mu.Unlock()
}

func (h *heartbeat) stop() {
	close(h.done)
	h.wg.Wait()
}

// isRetryable reports whether Temporal would retry err.
func isRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		if appErr.NonRetryable() {
			return false
		}
		for _, t := range NonRetryableErrorTypes {
			if appErr.Type() == t {
				return false
			}
		}
	}
	return true
}

// classify turns a provider error into the Temporal error that makes the right thing
// happen: wait the provider's delay, back off, or stop and flag the connection.
func (a *Sync) classify(ctx context.Context, conn store.Connection, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pe, ok := channels.AsError(err)
	if !ok {
		return temporal.NewApplicationError(err.Error(), ErrTypeProviderTransient)
	}
	switch pe.Kind {
	case channels.KindAuth:
		// Use a fresh context: the flag must land even if this attempt is being cancelled.
		flagCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if ferr := a.Store.MarkNeedsReauth(flagCtx, conn.WorkspaceID, conn.ID, httpx.HideAddresses(pe.Message)); ferr != nil {
			a.logger().Error("flag connection needs_reauth", "connection", conn.ID, "err", ferr)
		} else if _, nerr := a.notifyReauth(flagCtx, conn.WorkspaceID, conn.ID); nerr != nil {
			// The next sync's PrepareSync tries again.
			a.logger().Warn("needs_reauth notice", "connection_id", conn.ID, "err", nerr)
		}
		return temporal.NewNonRetryableApplicationError(pe.Error(), ErrTypeProviderAuth, nil)
	case channels.KindBadRequest:
		return temporal.NewNonRetryableApplicationError(pe.Error(), ErrTypeProviderBadRequest, nil)
	case channels.KindUnavailable:
		// Not the token: no needs_reauth. The run fails, FinishSync marks the connection
		// "error" with this message, and the next successful sync makes it active again.
		return temporal.NewNonRetryableApplicationError(pe.Error(), ErrTypeProviderUnavailable, nil)
	case channels.KindRateLimited:
		return temporal.NewApplicationErrorWithOptions(pe.Error(), ErrTypeProviderRateLimit,
			temporal.ApplicationErrorOptions{NextRetryDelay: pe.RetryAfter})
	default:
		return temporal.NewApplicationError(pe.Error(), ErrTypeProviderTransient)
	}
}

// FinishInput closes a run.
type FinishInput struct {
	WorkspaceID  string
	ConnectionID string
	SyncRunID    string
	WorkflowID   string
	Kind         string
	Succeeded    bool
	// Cancelled closes the run as cancelled rather than failed.
	Cancelled bool
	Error     string
}

// FinishResult is the closed run's totals.
type FinishResult struct {
	Pages int
	Rows  int64
}

// FinishSync records the run's outcome and shows it on the connection, advances the
// connection's cursor after a successful incremental sync, and releases the connection's lock.
func (a *Sync) FinishSync(ctx context.Context, in FinishInput) (FinishResult, error) {
	var res FinishResult
	if in.SyncRunID != "" {
		status := store.RunSucceeded
		switch {
		case in.Cancelled:
			status = store.RunCancelled
		case !in.Succeeded:
			status = store.RunFailed
		}
		// The error becomes the run's error and the connection's status_reason, which tenants
		// read: whatever produced it, it must not name our addresses.
		run, err := a.Store.FinishSyncRun(ctx, store.FinishRun{
			RunID: in.SyncRunID, Status: status, Error: httpx.HideAddresses(in.Error),
			AdvanceCursor: in.Kind == kindIncremental, WorkflowID: in.WorkflowID,
		})
		if err != nil {
			return res, err
		}
		res = FinishResult{Pages: run.Pages, Rows: run.RowsWritten}
	}
	if in.Kind == kindIncremental {
		if err := a.Store.ReleaseSyncLock(ctx, in.ConnectionID, in.WorkflowID); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (a *Sync) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// ListConnectionsInput names a workspace.
type ListConnectionsInput struct {
	WorkspaceID string
}

// ConnectionRef identifies a connection to sync; ids only, never credentials.
type ConnectionRef struct {
	ID      string
	Channel string
}

// ListConnectionsResult lists a workspace's connections that can be synced, and the ones
// that cannot with why.
type ListConnectionsResult struct {
	Syncable []ConnectionRef
	Skipped  []SkippedConnection
}

// SkippedConnection is a connection a workspace sync leaves out.
type SkippedConnection struct {
	ID     string
	Reason string
}

// ListConnections lists the workspace's connections for a workspace sync. Connections
// that need re-authentication are skipped: syncing them would only fail again.
func (a *Sync) ListConnections(ctx context.Context, in ListConnectionsInput) (ListConnectionsResult, error) {
	conns, err := a.Store.ListConnections(ctx, in.WorkspaceID)
	if err != nil {
		return ListConnectionsResult{}, err
	}
	var out ListConnectionsResult
	for _, c := range conns {
		if c.Status == store.ConnectionDisconnected {
			// Removed by the user: not part of the workspace's syncs any more.
			continue
		}
		if c.Status == store.ConnectionNeedsReauth || c.Status == store.ConnectionDisabled {
			out.Skipped = append(out.Skipped, SkippedConnection{ID: c.ID, Reason: c.Status})
			continue
		}
		if _, ok := a.Connectors.Account(channels.Channel(c.Channel)); !ok {
			out.Skipped = append(out.Skipped, SkippedConnection{ID: c.ID, Reason: "no connector for " + c.Channel})
			continue
		}
		out.Syncable = append(out.Syncable, ConnectionRef{ID: c.ID, Channel: c.Channel})
	}
	return out, nil
}
