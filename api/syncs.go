package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

// SyncHandle is the answer to starting a sync or backfill.
type SyncHandle struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	StatusURL  string `json:"status_url"`
}

func handleDTO(h syncsvc.Handle) SyncHandle {
	return SyncHandle{WorkflowID: h.WorkflowID, RunID: h.RunID, StatusURL: "/v1/syncs/" + h.WorkflowID}
}

// BackfillRequest is the body of POST /v1/connections/{id}/backfills.
type BackfillRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// maxBackfillDays is the longest backfill window: how far back Meta keeps insights (37 months).
const maxBackfillDays = channels.RetentionDays

// startedStatus is 202 for a run this request started and 200 for one already running.
func startedStatus(started bool) int {
	if started {
		return http.StatusAccepted
	}
	return http.StatusOK
}

func (s *server) triggerSync(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok || !requireUsable(c, conn) {
		return
	}
	h, started, err := s.Syncs.TriggerSync(c.Request.Context(), conn)
	if err != nil {
		s.syncsProblem(c, "start sync", "connection", err)
		return
	}
	c.JSON(startedStatus(started), handleDTO(h))
}

// startWorkspaceSync syncs every connection of the caller's workspace. It takes no body.
func (s *server) startWorkspaceSync(c *gin.Context) {
	h, started, err := s.Syncs.StartWorkspaceSync(c.Request.Context(), workspaceID(c))
	if err != nil {
		s.syncsProblem(c, "start workspace sync", "workspace", err)
		return
	}
	c.JSON(startedStatus(started), handleDTO(h))
}

func (s *server) getSync(c *gin.Context) {
	wf := c.Param("workflow_id")
	st, err := s.Syncs.GetSync(c.Request.Context(), workspaceID(c), wf)
	if err != nil {
		s.syncsProblem(c, "sync "+wf, "workflow_id", err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *server) startBackfill(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	var req BackfillRequest
	if !decodeJSON(c, &req) {
		return
	}
	if errs := validateBackfill(req, time.Now()); len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if !requireUsable(c, conn) || !s.historyCovers(c, conn, req.From) {
		return
	}
	h, started, err := s.Syncs.StartBackfill(c.Request.Context(), conn, req.From, req.To)
	if err != nil {
		s.syncsProblem(c, "start backfill", "from", err)
		return
	}
	c.JSON(startedStatus(started), handleDTO(h))
}

// historyCovers checks, for a provider that limits history by scope, that the connection's
// token reads back to the day from (YYYY-MM-DD), and records the scopes it holds. A backfill
// before the limit would silently store nothing, so it fails at once with a 422 naming the
// scope. False means a problem was written.
func (s *server) historyCovers(c *gin.Context, conn store.Connection, from string) bool {
	reader, _ := s.Connectors.Account(channels.Channel(conn.Channel))
	hr, ok := reader.(channels.HistoryReader)
	if !ok {
		return true
	}
	ctx := c.Request.Context()
	token, err := s.Box.Open(conn.TokenCiphertext, secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID))
	if err != nil {
		s.internal(c, "open access token", err)
		return false
	}
	infoCtx, cancel := context.WithTimeout(ctx, accountInfoTimeout)
	h, err := hr.History(infoCtx, channels.Account{ID: conn.ExternalAccountID, Token: string(token)}, time.Now())
	cancel()
	if err != nil {
		s.providerProblem(c, channels.Channel(conn.Channel), err, string(token))
		return false
	}
	if err := s.Store.SetConnectionScopes(ctx, conn.WorkspaceID, conn.ID, h.Scopes); err != nil {
		s.unavailable(c, "the database", err)
		return false
	}
	first := historyFrom(h, conn.Timezone)
	if first == nil || from >= *first {
		return true
	}
	writeProblem(c, Problem{Type: typeMissingScope, Title: "Missing access scope", Status: http.StatusUnprocessableEntity,
		Detail: fmt.Sprintf("backfilling from %s needs the %s scope: without it %s returns only the orders created since %s, "+
			"and silently leaves out the older ones; reconnect the account with a token granted %s, or backfill from %s",
			from, h.Scope, conn.Channel, *first, h.Scope, *first)})
	return false
}

// validateBackfill checks a backfill window. The latest allowed day is tomorrow in UTC,
// because an account in a zone ahead of UTC is already there; the earliest is
// channels.RetentionDays before today, since no provider serves older data (and a day such
// as 0000-01-01 is not even a date PostgreSQL can store).
func validateBackfill(req BackfillRequest, now time.Time) []FieldError {
	from, ferr := parseDay("from", req.From)
	to, terr := parseDay("to", req.To)
	errs := appendErr(nil, ferr)
	errs = appendErr(errs, terr)
	if len(errs) > 0 {
		return errs
	}
	today := now.UTC().Truncate(24 * time.Hour)
	switch w := (channels.Window{From: from, To: to}); {
	case from.After(to):
		errs = append(errs, FieldError{"from", fmt.Sprintf("must not be after to (%s)", req.To)})
	case to.After(today.AddDate(0, 0, 1)):
		errs = append(errs, FieldError{"to", fmt.Sprintf("must not be after %s", today.AddDate(0, 0, 1).Format(channels.DateLayout))})
	case from.Before(channels.EarliestBackfillDay(today)):
		errs = append(errs, FieldError{"from", fmt.Sprintf("must not be before %s: providers keep at most %d days (37 months) of data",
			channels.EarliestBackfillDay(today).Format(channels.DateLayout), channels.RetentionDays)})
	case w.Days() > maxBackfillDays:
		errs = append(errs, FieldError{"from", fmt.Sprintf("the window is %d days; at most %d can be backfilled", w.Days(), maxBackfillDays)})
	}
	return errs
}

// parseDay parses a YYYY-MM-DD field.
func parseDay(field, v string) (time.Time, *FieldError) {
	if v == "" {
		return time.Time{}, &FieldError{field, "is required (YYYY-MM-DD)"}
	}
	d, err := time.Parse(channels.DateLayout, v)
	if err != nil {
		return time.Time{}, &FieldError{field, fmt.Sprintf("%q is not a YYYY-MM-DD date", v)}
	}
	return d, nil
}

func appendErr(errs []FieldError, e *FieldError) []FieldError {
	if e != nil {
		errs = append(errs, *e)
	}
	return errs
}

// typeBackfillLimit: the workspace already runs as many backfills, or backfill windows, as
// it may at once.
const typeBackfillLimit = "/problems/backfill-limit"

// backfillLimitRetry is the Retry-After of a backfill refused by the workspace's caps: a
// hint to poll, since backfills take minutes to hours.
const backfillLimitRetry = "60"

// syncsProblem maps a Syncs error: unknown → 404, bad input → 422, overlapping a running
// backfill → 409, past the workspace's backfill caps → 429 naming the running backfills,
// anything else means Temporal is unreachable or failing → 503.
// field names the input a validation error is about.
func (s *server) syncsProblem(c *gin.Context, what, field string, err error) {
	var verr *syncsvc.ValidationError
	var cerr *syncsvc.ConflictError
	var lerr *syncsvc.LimitError
	switch {
	case errors.As(err, &lerr):
		c.Header("Retry-After", backfillLimitRetry)
		p := Problem{Type: typeBackfillLimit, Title: "Too many running backfills", Status: http.StatusTooManyRequests,
			Detail: lerr.Msg}
		if len(lerr.Running) > 0 {
			p.WorkflowID = lerr.Running[0]
		}
		writeProblem(c, p)
	case errors.As(err, &cerr):
		writeProblem(c, Problem{Type: typeConflict, Title: "Overlaps a running backfill", Status: http.StatusConflict,
			Detail: cerr.Msg, WorkflowID: cerr.WorkflowID})
	case errors.Is(err, syncsvc.ErrNotFound), errors.Is(err, store.ErrNotFound):
		notFound(c, what)
	case errors.As(err, &verr):
		validationProblem(c, []FieldError{{field, verr.Msg}})
	default:
		s.unavailable(c, "the sync service ("+what+")", err)
	}
}
