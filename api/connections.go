package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

// Connection is a connection as the API shows it. It never carries the access token.
type Connection struct {
	ID           string     `json:"id"`
	Channel      string     `json:"channel"`
	AccountID    string     `json:"account_id"`
	DisplayName  string     `json:"display_name"`
	Status       string     `json:"status"`
	StatusReason string     `json:"status_reason"`
	Timezone     string     `json:"timezone"`
	Currency     string     `json:"currency"`
	CursorDate   *string    `json:"cursor_date"` // YYYY-MM-DD or null before the first sync
	LastSyncedAt *time.Time `json:"last_synced_at"`
	CreatedAt    time.Time  `json:"created_at"`
	// HistoryFrom is the first day (YYYY-MM-DD, account timezone) of the history the token
	// reads, or null for all of it: a Shopify token without read_all_orders reads 60 days.
	HistoryFrom *string `json:"history_from"`
	// LastError is the last failed sync or backfill, until a run started after it succeeds.
	LastError *ConnectionError `json:"last_error"`
	// Paused is whether the connection's schedule is paused. Only PATCH answers it (it asks
	// the schedule anyway); GET leaves it out rather than ask Temporal per connection.
	Paused *bool `json:"paused,omitempty"`
}

// ConnectionError is a connection's last failed sync or backfill window.
type ConnectionError struct {
	At         time.Time `json:"at"`
	WorkflowID string    `json:"workflow_id"`
	Message    string    `json:"message"`
}

// withHistory fills HistoryFrom of the connections from their recorded scopes.
func (s *server) withHistory(ctx context.Context, ws string, conns []store.Connection, out []Connection) error {
	scopes, err := s.Store.ConnectionScopes(ctx, ws)
	if err != nil {
		return err
	}
	for i, c := range conns {
		granted, ok := scopes[c.ID]
		if c.Channel != string(channels.Shopify) || !ok {
			continue
		}
		out[i].HistoryFrom = historyFrom(shopify.HistoryOf(granted, time.Now()), c.Timezone)
	}
	return nil
}

// historyFrom is the first day of h in the timezone, nil for all history.
func historyFrom(h channels.History, tz string) *string {
	if h.From.IsZero() {
		return nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	d := h.From.In(loc).Format(channels.DateLayout)
	return &d
}

func connectionDTO(c store.Connection) Connection {
	out := Connection{
		ID: c.ID, Channel: c.Channel, AccountID: c.ExternalAccountID, DisplayName: c.DisplayName,
		Status: c.Status, StatusReason: c.StatusReason, Timezone: c.Timezone, Currency: c.Currency,
		LastSyncedAt: c.LastSyncedAt, CreatedAt: c.CreatedAt,
	}
	if c.CursorDate != nil {
		d := c.CursorDate.Format(channels.DateLayout)
		out.CursorDate = &d
	}
	if c.LastErrorAt != nil {
		out.LastError = &ConnectionError{At: *c.LastErrorAt, WorkflowID: c.LastErrorWorkflowID, Message: c.LastErrorMessage}
	}
	return out
}

// ConnectionList is the body of GET /v1/connections.
type ConnectionList struct {
	Connections []Connection `json:"connections"`
}

// CreateConnectionRequest is the body of POST /v1/connections.
type CreateConnectionRequest struct {
	Channel   string `json:"channel"`
	AccountID string `json:"account_id"`
	// AccessToken is required for Meta, TikTok and Shopify. Google Ads and GA4 take an OAuth
	// RefreshToken instead (or as well), from which access tokens are minted.
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// LoginCustomerID is the Google Ads manager account acting for account_id, if any.
	LoginCustomerID string `json:"login_customer_id,omitempty"`
}

// maxTokenBytes bounds access tokens; real ones are a few hundred bytes.
const maxTokenBytes = 4 << 10

// accountInfoTimeout bounds the provider call that verifies a new token.
const accountInfoTimeout = 20 * time.Second

// accountNormalizer returns the function that brings a user-typed account id to the
// channel's canonical form, or nil for a channel that cannot be connected yet.
func accountNormalizer(ch channels.Channel) func(string) (string, error) {
	switch ch {
	case channels.Meta:
		return normalizeMetaAccount
	case channels.GoogleAds:
		return googleads.NormalizeCustomerID
	case channels.TikTok:
		return tiktok.NormalizeAdvertiserID
	case channels.Shopify:
		return shopify.NormalizeShopDomain
	case channels.GA4:
		return ga4.NormalizePropertyID
	}
	return nil
}

// usesOAuthRefresh reports whether the channel accepts a refresh token in place of an
// access token (Google's APIs).
func usesOAuthRefresh(ch channels.Channel) bool {
	return ch == channels.GoogleAds || ch == channels.GA4
}

// validateToken checks a token the user sent; field names the JSON field.
func validateToken(field, tok string, required bool) *FieldError {
	switch {
	case strings.TrimSpace(tok) == "":
		if required {
			return &FieldError{field, "is required"}
		}
	case len(tok) >= maxTokenBytes:
		return &FieldError{field, fmt.Sprintf("must be shorter than %d bytes", maxTokenBytes)}
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return &FieldError{field, "must not contain spaces or control characters"}
	}
	return nil
}

// normalizeMetaAccount accepts "act_123" or "123" and returns "123".
func normalizeMetaAccount(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(s), "act_")
	if id == "" {
		return "", errors.New("is required")
	}
	if len(id) > 32 {
		return "", errors.New("is too long for a Meta ad account id")
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return "", errors.New(`must be a Meta ad account id: digits, optionally prefixed with "act_"`)
		}
	}
	return id, nil
}

func (s *server) createConnection(c *gin.Context) {
	var req CreateConnectionRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	ch, reader, accountID := channels.Channel(""), channels.AccountReader(nil), ""
	switch parsed, err := channels.ParseChannel(req.Channel); {
	case req.Channel == "":
		errs = append(errs, FieldError{"channel", "is required"})
	case err != nil:
		errs = append(errs, FieldError{"channel", err.Error()})
	default:
		ch = parsed
		normalize := accountNormalizer(ch)
		reader, _ = s.Connectors.Account(ch)
		if normalize == nil || reader == nil {
			errs = append(errs, FieldError{"channel", fmt.Sprintf("channel %s is not supported yet", ch)})
			break
		}
		id, err := normalize(req.AccountID)
		if err != nil {
			errs = append(errs, FieldError{"account_id", err.Error()})
		}
		accountID = id
	}
	oauth := usesOAuthRefresh(ch)
	if fe := validateToken("access_token", req.AccessToken, !oauth || req.RefreshToken == ""); fe != nil {
		if oauth && req.RefreshToken == "" && strings.TrimSpace(req.AccessToken) == "" {
			fe.Message = "is required (or refresh_token)"
		}
		errs = append(errs, *fe)
	}
	if fe := validateToken("refresh_token", req.RefreshToken, false); fe != nil {
		errs = append(errs, *fe)
	}
	if req.RefreshToken != "" && ch != "" && !oauth {
		errs = append(errs, FieldError{"refresh_token", fmt.Sprintf("is not used by %s", ch)})
	}
	loginCustomerID := ""
	if req.LoginCustomerID != "" {
		if ch != channels.GoogleAds {
			errs = append(errs, FieldError{"login_customer_id", "is only used by google_ads"})
		} else if id, err := googleads.NormalizeCustomerID(req.LoginCustomerID); err != nil {
			errs = append(errs, FieldError{"login_customer_id", err.Error()})
		} else {
			loginCustomerID = id
		}
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}

	ctx := c.Request.Context()
	ws := workspaceID(c)
	// The plan's room is checked before the provider is asked anything.
	if !s.connectionRoom(c, ws, string(ch), []string{accountID}, checkoutHint) {
		return
	}
	infoCtx, cancel := context.WithTimeout(ctx, accountInfoTimeout)
	info, err := reader.AccountInfo(infoCtx, channels.Account{ID: accountID, Token: req.AccessToken,
		RefreshToken: req.RefreshToken, LoginCustomerID: loginCustomerID})
	cancel()
	if err != nil {
		s.providerProblem(c, ch, err, req.AccessToken, req.RefreshToken)
		return
	}
	// A provider that limits history by scope says how far back this token reads.
	var scopes []string
	if hr, ok := reader.(channels.HistoryReader); ok {
		infoCtx, cancel := context.WithTimeout(ctx, accountInfoTimeout)
		h, err := hr.History(infoCtx, channels.Account{ID: accountID, Token: req.AccessToken}, time.Now())
		cancel()
		if err != nil {
			s.providerProblem(c, ch, err, req.AccessToken, req.RefreshToken)
			return
		}
		scopes = h.Scopes
		if scopes == nil {
			scopes = []string{}
		}
	}

	workspace, err := s.Store.GetWorkspace(ctx, ws)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	sealed, err := s.Box.Seal([]byte(req.AccessToken), secretbox.ConnectionTokenAAD(ws, string(ch), accountID))
	if err != nil {
		s.internal(c, "seal access token", err)
		return
	}
	var sealedRefresh []byte
	if req.RefreshToken != "" {
		if sealedRefresh, err = s.Box.Seal([]byte(req.RefreshToken), secretbox.ConnectionRefreshTokenAAD(ws, string(ch), accountID)); err != nil {
			s.internal(c, "seal refresh token", err)
			return
		}
	}
	create := s.Store.CreateConnection
	if s.enforcing() {
		create = s.Store.CreateConnectionWithinPlan
	}
	conn, err := create(ctx, store.NewConnection{
		WorkspaceID:            ws,
		Channel:                string(ch),
		ExternalAccountID:      accountID,
		DisplayName:            info.Name,
		TokenCiphertext:        sealed,
		Timezone:               s.accountTimezone(ctx, info, workspace.Timezone),
		Currency:               accountCurrency(info, workspace.Currency),
		RefreshTokenCiphertext: sealedRefresh,
		LoginCustomerID:        loginCustomerID,
		TokenKeyID:             s.Box.KeyID(),
	})
	if errors.Is(err, store.ErrConflict) {
		writeProblem(c, Problem{Type: typeConflict, Title: "Already connected", Status: http.StatusConflict,
			Detail: fmt.Sprintf("%s account %s is already connected to this workspace", ch, accountID)})
		return
	}
	var limit *store.LimitError
	if errors.As(err, &limit) {
		// Another request took the last slot since connectionRoom looked.
		s.limitError(c, limit, checkoutHint)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	if scopes != nil {
		err = s.Store.SetConnectionScopes(ctx, ws, conn.ID, scopes)
	}
	if err == nil {
		err = s.Syncs.EnsureSchedule(ctx, conn)
	}
	if err != nil {
		// Without its schedule the connection would silently never sync, and without its
		// scopes it would claim all history: undo the insert. The undo must run even if the
		// client has gone away.
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := s.Store.DeleteConnection(undoCtx, ws, conn.ID); derr != nil {
			s.log.ErrorContext(ctx, "undo connection after schedule failure", "connection_id", conn.ID, "err", derr)
		}
		s.unavailable(c, "the scheduler", err)
		return
	}
	s.log.InfoContext(ctx, "connection created", "workspace_id", ws, "connection_id", conn.ID,
		"channel", ch, "account_id", accountID)
	s.audit(c, "connection.connected", "connection", conn.ID, map[string]any{"channel": string(ch), "account_id": accountID})
	out := []Connection{connectionDTO(conn)}
	if ch == channels.Shopify {
		out[0].HistoryFrom = historyFrom(shopify.HistoryOf(scopes, time.Now()), conn.Timezone)
	}
	c.Header("Location", "/v1/connections/"+conn.ID)
	c.JSON(http.StatusCreated, out[0])
}

// providerProblem answers a failed token check. The provider's message is shown because it
// tells the user what to fix, with the token itself scrubbed in case the provider echoes it.
func (s *server) providerProblem(c *gin.Context, ch channels.Channel, err error, secrets ...string) {
	pe, ok := channels.AsError(err)
	if !ok {
		s.unavailable(c, string(ch)+" API", err)
		return
	}
	msg := pe.Message
	for _, secret := range secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	if msg == "" {
		msg = pe.Kind.String() + " error"
	}
	switch pe.Kind {
	case channels.KindAuth:
		writeProblem(c, Problem{Type: typeProviderReject, Title: "Access token rejected", Status: http.StatusUnprocessableEntity,
			Detail: "the provider rejected the access token: " + msg})
	case channels.KindBadRequest:
		writeProblem(c, Problem{Type: typeProviderReject, Title: "Provider rejected the request", Status: http.StatusUnprocessableEntity,
			Detail: msg})
	default:
		retry := int((pe.RetryAfter + time.Second - 1) / time.Second)
		if retry <= 0 {
			retry = 30
		}
		s.log.WarnContext(c.Request.Context(), "provider unavailable while verifying token", "channel", ch, "kind", pe.Kind.String(),
			"http_status", pe.HTTPStatus, "code", pe.Code)
		c.Header("Retry-After", strconv.Itoa(retry))
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Provider unavailable", Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("%s is unavailable or rate limiting (%s); retry in %d seconds", ch, msg, retry)})
	}
}

// accountTimezone keeps the provider's zone if this program can load it; schedules and
// sync windows are computed in it, so an unknown name would break them later.
func (s *server) accountTimezone(ctx context.Context, info channels.AccountInfo, fallback string) string {
	if info.Timezone != "" && info.Timezone != "Local" {
		if _, err := time.LoadLocation(info.Timezone); err == nil {
			return info.Timezone
		}
		s.log.WarnContext(ctx, "provider timezone unknown; using the workspace's", "timezone", info.Timezone, "fallback", fallback)
	}
	return fallback
}

func accountCurrency(info channels.AccountInfo, fallback string) string {
	cur := strings.ToUpper(strings.TrimSpace(info.Currency))
	if !money.IsCurrencyCode(cur) {
		return fallback
	}
	return cur
}

func (s *server) listConnections(c *gin.Context) {
	conns, err := s.Store.ListConnections(c.Request.Context(), workspaceID(c))
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := ConnectionList{Connections: make([]Connection, 0, len(conns))}
	for _, conn := range conns {
		out.Connections = append(out.Connections, connectionDTO(conn))
	}
	if err := s.withHistory(c.Request.Context(), workspaceID(c), conns, out.Connections); err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) getConnection(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	out := []Connection{connectionDTO(conn)}
	if err := s.withHistory(c.Request.Context(), workspaceID(c), []store.Connection{conn}, out); err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, out[0])
}

// loadConnection loads the :id connection of the caller's workspace. Another workspace's
// id and a malformed id answer the same 404 as a missing one, so ids cannot be probed.
func (s *server) loadConnection(c *gin.Context) (store.Connection, bool) {
	id := c.Param("id")
	conn, err := s.Store.GetConnection(c.Request.Context(), workspaceID(c), id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "connection "+id)
		return store.Connection{}, false
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return store.Connection{}, false
	}
	return conn, true
}

// requireUsable rejects work on a connection that cannot reach its provider.
func requireUsable(c *gin.Context, conn store.Connection) bool {
	switch conn.Status {
	case store.ConnectionNeedsReauth:
		detail := "the provider no longer accepts this connection's access token; reconnect the account with a new token"
		if conn.StatusReason != "" {
			detail += " (" + conn.StatusReason + ")"
		}
		writeProblem(c, Problem{Type: typeNeedsReauth, Title: "Connection needs re-authorization", Status: http.StatusConflict,
			Detail: detail})
		return false
	case "disabled":
		writeProblem(c, Problem{Type: typeConflict, Title: "Connection disabled", Status: http.StatusConflict,
			Detail: "the connection is disabled"})
		return false
	case store.ConnectionDisconnected:
		writeProblem(c, Problem{Type: typeConflict, Title: "Connection disconnected", Status: http.StatusConflict,
			Detail: "the connection was disconnected; reconnect the account to sync it again"})
		return false
	}
	return true
}

// Disconnector removes what a connection registered at its provider (Shopify webhooks)
// when the connection is disconnected. accessToken is the connection's opened token.
type Disconnector interface {
	Disconnect(ctx context.Context, conn store.Connection, accessToken string) error
}

// disconnectTimeout bounds the provider call that removes registrations on disconnect.
const disconnectTimeout = 15 * time.Second

// maxDisplayNameRunes bounds a connection's display name.
const maxDisplayNameRunes = 200

// UpdateConnectionRequest is the body of PATCH /v1/connections/{id}; absent (or null)
// fields are left as they are.
type UpdateConnectionRequest struct {
	DisplayName *string `json:"display_name"`
	// Paused pauses or resumes the connection's sync schedule.
	Paused *bool `json:"paused"`
}

func validateUpdateConnection(req *UpdateConnectionRequest) []FieldError {
	var errs []FieldError
	if req.DisplayName == nil && req.Paused == nil {
		return []FieldError{{"display_name", "give display_name or paused (or both)"}}
	}
	if req.DisplayName != nil {
		name := strings.TrimSpace(*req.DisplayName)
		switch {
		case name == "":
			errs = append(errs, FieldError{"display_name", "must not be empty"})
		case len([]rune(name)) > maxDisplayNameRunes:
			errs = append(errs, FieldError{"display_name", "must be at most 200 characters"})
		case strings.ContainsFunc(name, unicode.IsControl):
			errs = append(errs, FieldError{"display_name", "must not contain control characters"})
		}
		req.DisplayName = &name
	}
	return errs
}

// updateConnection renames a connection and pauses or resumes its schedule. The schedule
// changes first: if Temporal refuses, nothing is renamed.
func (s *server) updateConnection(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	var req UpdateConnectionRequest
	if !decodeJSON(c, &req) {
		return
	}
	if errs := validateUpdateConnection(&req); len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if conn.Status == store.ConnectionDisconnected {
		requireUsable(c, conn)
		return
	}
	ctx := c.Request.Context()
	var sch syncsvc.Schedule
	var err error
	if req.Paused != nil {
		sch, err = s.Syncs.UpdateSchedule(ctx, conn, syncsvc.ScheduleUpdate{Paused: req.Paused})
	} else {
		sch, err = s.Syncs.GetSchedule(ctx, conn)
	}
	if err != nil {
		s.syncsProblem(c, "schedule of connection "+conn.ID, "paused", err)
		return
	}
	if req.DisplayName != nil && *req.DisplayName != conn.DisplayName {
		if conn, err = s.Store.RenameConnection(ctx, conn.WorkspaceID, conn.ID, *req.DisplayName); err != nil {
			s.unavailable(c, "the database", err)
			return
		}
	}
	out := []Connection{connectionDTO(conn)}
	if err := s.withHistory(ctx, conn.WorkspaceID, []store.Connection{conn}, out); err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	paused := sch.Paused
	out[0].Paused = &paused
	c.JSON(http.StatusOK, out[0])
}

// deleteConnection disconnects a connection: its provider registrations are removed (best
// effort), its tokens erased and its status set to disconnected in one transaction, its
// schedule deleted and its running syncs and backfills cancelled. Its data stays unless
// ?purge=true, which deletes the connection and everything read through it. Repeating the
// request finishes what a failed one left (the schedule, the cancellations).
func (s *server) deleteConnection(c *gin.Context) {
	purge := false
	if raw, given := c.GetQuery("purge"); given {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			validationProblem(c, []FieldError{{"purge", "must be true or false"}})
			return
		}
		purge = v
	}
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if s.Disconnector != nil && len(conn.TokenCiphertext) > 0 {
		s.disconnectAtProvider(ctx, conn)
	}
	gone, err := s.Store.DisconnectConnection(ctx, conn.WorkspaceID, conn.ID)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "connection "+conn.ID)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	// The tokens are gone: from here on, the connection cannot reach its provider whatever
	// else fails, and a retried DELETE completes the rest.
	if err := s.Syncs.DeleteSchedule(ctx, conn); err != nil {
		s.unavailable(c, "the scheduler", err)
		return
	}
	running := append([]string{gone.SyncWorkflowID}, gone.BackfillWorkflowIDs...)
	if err := s.Syncs.CancelRuns(ctx, conn, running); err != nil {
		s.unavailable(c, "the sync service", err)
		return
	}
	if purge {
		if err := s.Store.DeleteConnection(ctx, conn.WorkspaceID, conn.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.unavailable(c, "the database", err)
			return
		}
	}
	s.log.InfoContext(ctx, "connection removed", "workspace_id", conn.WorkspaceID, "connection_id", conn.ID,
		"channel", conn.Channel, "purge", purge)
	s.audit(c, "connection.removed", "connection", conn.ID, map[string]any{"purge": purge})
	c.Status(http.StatusNoContent)
}

// disconnectAtProvider lets the Disconnector remove provider-side registrations. A failure
// is logged and does not stop the disconnect: the token is erased either way, and the
// provider drops registrations of an app that can no longer authenticate.
func (s *server) disconnectAtProvider(ctx context.Context, conn store.Connection) {
	token, err := s.Box.Open(conn.TokenCiphertext, secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID))
	if err != nil {
		s.log.WarnContext(ctx, "disconnect: cannot open the token to remove provider registrations",
			"connection_id", conn.ID, "err", err)
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), disconnectTimeout)
	defer cancel()
	if err := s.Disconnector.Disconnect(dctx, conn, string(token)); err != nil {
		s.log.WarnContext(ctx, "disconnect: removing provider registrations failed", "connection_id", conn.ID,
			"channel", conn.Channel, "err", redactToken(err.Error(), string(token)))
	}
}

func redactToken(msg, token string) string {
	if token == "" {
		return msg
	}
	return strings.ReplaceAll(msg, token, "[redacted]")
}
