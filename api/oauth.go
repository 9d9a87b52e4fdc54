package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Problem types of OAuth connect.
const (
	typeOAuthState         = "/problems/oauth-state-invalid"
	typeOAuthDenied        = "/problems/oauth-consent-denied"
	typeOAuthNotConfigured = "/problems/oauth-not-configured"
	typeOAuthCallback      = "/problems/oauth-callback-invalid"
)

// maxOAuthAccounts bounds the connections one consent creates. A Google Ads manager can
// see hundreds of customers; connecting them all by surprise would start hundreds of
// syncs, so beyond this the user must pick with account_ids.
const maxOAuthAccounts = 50

// OAuthStartRequest is the (optional) body of POST /v1/connections/oauth/{provider}/start.
type OAuthStartRequest struct {
	// Shop is the myshopify.com domain; required for Shopify, refused for the others.
	Shop string `json:"shop,omitempty"`
	// AccountIDs restricts which of the accounts the grant sees become connections. Empty
	// means all of them (at most maxOAuthAccounts): most users connect every account they
	// granted, and the consent screen is where they choose what to share.
	AccountIDs []string `json:"account_ids,omitempty"`
	// ConnectionID reconnects an existing connection (e.g. needs_reauth): its tokens are
	// replaced in place, keeping its id, history and cursor.
	ConnectionID string `json:"connection_id,omitempty"`
}

// OAuthStartResponse is the answer of the start route.
type OAuthStartResponse struct {
	AuthorizeURL   string    `json:"authorize_url"`
	StateExpiresAt time.Time `json:"state_expires_at"`
}

// verifierAAD binds a sealed PKCE verifier to its consent row.
func verifierAAD(stateID string) []byte { return []byte("oauth-state:" + stateID + ":pkce-verifier") }

// oauthProvider reads the :provider of the route; unknown providers are 404.
func (s *server) oauthProvider(c *gin.Context) (channels.Channel, bool) {
	p := c.Param("provider")
	if !slices.Contains(oauth.Providers, p) {
		notFound(c, "OAuth provider "+strconv.Quote(p))
		return "", false
	}
	if s.OAuth == nil || !s.OAuth.Configured(p) {
		writeProblem(c, Problem{Type: typeOAuthNotConfigured, Title: "OAuth not configured", Status: http.StatusNotImplemented,
			Detail: fmt.Sprintf("this server has no OAuth client for %s; connect it with a token (POST /v1/connections)", p)})
		return "", false
	}
	return channels.Channel(p), true
}

func (s *server) startOAuth(c *gin.Context) {
	ch, ok := s.oauthProvider(c)
	if !ok {
		return
	}
	var req OAuthStartRequest
	if c.Request.ContentLength != 0 && c.Request.Body != http.NoBody && c.Request.Body != nil {
		if !decodeJSON(c, &req) {
			return
		}
	}
	ctx := c.Request.Context()
	ws, p := workspaceID(c), principal(c)
	var errs []FieldError
	if _, ok := s.Connectors.Account(ch); !ok {
		errs = append(errs, FieldError{"provider", fmt.Sprintf("channel %s is not supported yet", ch)})
	}
	shop := strings.ToLower(strings.TrimSpace(req.Shop))
	var conn store.Connection
	if req.ConnectionID != "" {
		var err error
		conn, err = s.Store.GetConnection(ctx, ws, req.ConnectionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs = append(errs, FieldError{"connection_id", "is not a connection of this workspace"})
		case err != nil:
			s.unavailable(c, "the database", err)
			return
		case conn.Channel != string(ch):
			errs = append(errs, FieldError{"connection_id", fmt.Sprintf("is a %s connection, not %s", conn.Channel, ch)})
		case len(req.AccountIDs) > 0:
			errs = append(errs, FieldError{"account_ids", "is not used with connection_id: a reconnect renews that connection's account"})
		case ch == channels.Shopify && shop == "":
			shop = conn.ExternalAccountID
		}
	}
	if ch == channels.Shopify {
		switch {
		case shop == "":
			errs = append(errs, FieldError{"shop", "is required: the shop's myshopify.com domain"})
		case !oauth.ValidShop(shop):
			errs = append(errs, FieldError{"shop", "must be a myshopify.com domain such as my-shop.myshopify.com"})
		case conn.ID != "" && shop != conn.ExternalAccountID:
			errs = append(errs, FieldError{"shop", "must be the shop of the connection being reconnected"})
		}
		if len(req.AccountIDs) > 0 {
			errs = append(errs, FieldError{"account_ids", "is not used by shopify: a consent grants one shop"})
		}
	} else if req.Shop != "" {
		errs = append(errs, FieldError{"shop", "is only used by shopify"})
	}
	accounts := []string{}
	if len(req.AccountIDs) > maxOAuthAccounts {
		errs = append(errs, FieldError{"account_ids", fmt.Sprintf("may name at most %d accounts", maxOAuthAccounts)})
	} else if normalize := accountNormalizer(ch); normalize != nil {
		for i, raw := range req.AccountIDs {
			id, err := normalize(raw)
			if err != nil {
				errs = append(errs, FieldError{fmt.Sprintf("account_ids[%d]", i), err.Error()})
				continue
			}
			if !slices.Contains(accounts, id) {
				accounts = append(accounts, id)
			}
		}
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}

	provider := string(ch)
	verifier := ""
	if oauth.UsesPKCE(provider) {
		verifier = oauth.NewVerifier()
	}
	n := store.NewOAuthState{WorkspaceID: ws, UserID: p.UserID, Provider: provider, ConnectionID: conn.ID, Shop: shop,
		AccountIDs: accounts, ExpiresAt: s.OAuth.Now().Add(oauth.StateTTL)}
	if verifier != "" {
		n.Seal = func(id string) ([]byte, error) { return s.Box.Seal([]byte(verifier), verifierAAD(id)) }
	}
	st, err := s.Store.CreateOAuthState(ctx, n)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	state, err := s.OAuth.States().Sign(oauth.StateClaims{ID: st.ID, WorkspaceID: ws, UserID: p.UserID, Provider: provider,
		ExpiresAt: st.ExpiresAt})
	if err != nil {
		s.internal(c, "sign OAuth state", err)
		return
	}
	authorize, err := s.OAuth.AuthorizeURL(provider, state, verifier, shop)
	if err != nil {
		s.internal(c, "build authorize URL", err)
		return
	}
	details := map[string]any{"provider": provider}
	if conn.ID != "" {
		details["connection_id"] = conn.ID
	}
	s.audit(c, "connection.oauth_started", "oauth_state", st.ID, details)
	c.JSON(http.StatusOK, OAuthStartResponse{AuthorizeURL: authorize, StateExpiresAt: st.ExpiresAt.UTC()})
}

func oauthStateProblem(c *gin.Context, detail string) {
	writeProblem(c, Problem{Type: typeOAuthState, Title: "Invalid OAuth state", Status: http.StatusBadRequest,
		Detail: detail + "; start the connection again"})
}

// oauthCallback finishes a consent. The browser arrives from the provider without our
// credentials, so the state is the authentication: signed by us, unexpired, naming an
// unused consent row of the same workspace, user and provider. For Shopify the query's
// HMAC is checked before anything else.
//
// The answer is {"connections": [...]} (200), or, when the caller prefers HTML (a browser
// the provider redirected) and a web app is configured (APP_URL other than PUBLIC_URL), a
// 303 to {AppURL}/connections?connected=<ids>: without a web app the browser shows the JSON
// rather than a page that does not exist. Failures are problem documents either way.
func (s *server) oauthCallback(c *gin.Context) {
	ch, ok := s.oauthProvider(c)
	if !ok {
		return
	}
	provider := string(ch)
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	callbackShop := ""
	if ch == channels.Shopify {
		shop, err := s.OAuth.CheckShopifyCallback(q)
		if err != nil {
			writeProblem(c, Problem{Type: typeOAuthCallback, Title: "Invalid Shopify callback", Status: http.StatusBadRequest,
				Detail: err.Error()})
			return
		}
		callbackShop = shop
	}
	claims, err := s.OAuth.States().Verify(q.Get("state"), provider)
	if errors.Is(err, oauth.ErrStateExpired) {
		oauthStateProblem(c, "the OAuth state has expired (consent must finish within 10 minutes)")
		return
	}
	if err != nil {
		oauthStateProblem(c, "the OAuth state is missing or was not issued by this server")
		return
	}
	st, err := s.Store.ConsumeOAuthState(ctx, claims.ID)
	if errors.Is(err, store.ErrNotFound) {
		oauthStateProblem(c, "the OAuth state was already used or has expired")
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	// The row, not the signature alone, says whose consent this is.
	if st.WorkspaceID != claims.WorkspaceID || st.UserID != claims.UserID || st.Provider != provider {
		s.log.WarnContext(ctx, "oauth state does not match its consent row", "state_id", st.ID, "provider", provider)
		oauthStateProblem(c, "the OAuth state does not belong to this consent")
		return
	}
	if ch == channels.Shopify && callbackShop != st.Shop {
		writeProblem(c, Problem{Type: typeOAuthCallback, Title: "Invalid Shopify callback", Status: http.StatusBadRequest,
			Detail: "the callback names another shop than the one the connection was started for"})
		return
	}
	// The user may have lost the right to connect since the consent started.
	role, err := s.Store.MembershipRole(ctx, st.UserID, st.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !auth.Allowed(auth.Role(role), auth.ManageConnections) {
		forbidden(c, "the user who started this consent may no longer connect accounts in the workspace")
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	// The standing may have changed since the consent started; the code is not exchanged
	// for a workspace that may not add connections now.
	if !s.admit(c, st.WorkspaceID, billing.GateCreate) {
		return
	}
	verifier := ""
	if st.VerifierCiphertext != nil {
		plain, err := s.Box.Open(st.VerifierCiphertext, verifierAAD(st.ID))
		if err != nil {
			s.internal(c, "open PKCE verifier", err)
			return
		}
		verifier = string(plain)
	}
	grant, err := s.OAuth.Exchange(ctx, provider, q, verifier, st.Shop)
	if err != nil {
		s.oauthProblem(c, provider, err)
		return
	}
	s.connectGrant(c, ch, st, grant)
}

// oauthProblem answers a failed consent or exchange.
func (s *server) oauthProblem(c *gin.Context, provider string, err error) {
	var denied *oauth.DeniedError
	var pe *oauth.Error
	switch {
	case errors.As(err, &denied):
		writeProblem(c, Problem{Type: typeOAuthDenied, Title: "Consent not granted", Status: http.StatusForbidden,
			Detail: denied.Error() + "; nothing was connected"})
	case errors.As(err, &pe) && pe.Retryable:
		s.log.WarnContext(c.Request.Context(), "oauth provider unavailable", "provider", provider, "http_status", pe.Status, "code", pe.Code)
		c.Header("Retry-After", "30")
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Provider unavailable", Status: http.StatusServiceUnavailable,
			Detail: pe.Message + "; start the connection again in a moment"})
	case errors.As(err, &pe):
		s.log.InfoContext(c.Request.Context(), "oauth provider refused", "provider", provider, "http_status", pe.Status, "code", pe.Code)
		writeProblem(c, Problem{Type: typeProviderReject, Title: "Provider refused the authorization", Status: http.StatusUnprocessableEntity,
			Detail: pe.Message + "; start the connection again"})
	default:
		s.unavailable(c, provider+" OAuth", err)
	}
}

// pickAccounts chooses the accounts of the grant that become connections: the one being
// reconnected, the ones named at start, or all visible ones. An account asked for but not
// granted is an error: silently connecting fewer would look like success.
func (s *server) pickAccounts(c *gin.Context, ch channels.Channel, st store.OAuthState, grant oauth.Grant) ([]oauth.Account, *store.Connection, bool) {
	visible := map[string]oauth.Account{}
	var order []string
	normalize := accountNormalizer(ch)
	for _, a := range grant.Accounts {
		id, err := normalize(a.ID)
		if err != nil {
			continue
		}
		if _, dup := visible[id]; !dup {
			a.ID = id
			visible[id] = a
			order = append(order, id)
		}
	}
	want := st.AccountIDs
	var reconnect *store.Connection
	if st.ConnectionID != "" {
		conn, err := s.Store.GetConnection(c.Request.Context(), st.WorkspaceID, st.ConnectionID)
		if errors.Is(err, store.ErrNotFound) {
			writeProblem(c, Problem{Type: typeConflict, Title: "Connection gone", Status: http.StatusConflict,
				Detail: "the connection being reconnected no longer exists"})
			return nil, nil, false
		}
		if err != nil {
			s.unavailable(c, "the database", err)
			return nil, nil, false
		}
		reconnect, want = &conn, []string{conn.ExternalAccountID}
	}
	var out []oauth.Account
	var missing []string
	for _, id := range want {
		if a, ok := visible[id]; ok {
			out = append(out, a)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		writeProblem(c, Problem{Type: typeProviderReject, Title: "Account not granted", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("the consent does not give access to %s account(s) %s; grant them on the consent screen",
				ch, strings.Join(missing, ", "))})
		return nil, nil, false
	}
	if len(want) == 0 {
		for _, id := range order {
			out = append(out, visible[id])
		}
	}
	switch {
	case len(out) == 0:
		writeProblem(c, Problem{Type: typeProviderReject, Title: "No accounts granted", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("the consent gives access to no %s account", ch)})
		return nil, nil, false
	case len(out) > maxOAuthAccounts:
		writeProblem(c, Problem{Type: typeProviderReject, Title: "Too many accounts", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("the consent gives access to %d %s accounts; start again naming at most %d in account_ids",
				len(out), ch, maxOAuthAccounts)})
		return nil, nil, false
	}
	return out, reconnect, true
}

// accountPlan is one connection to create or renew, with what its provider says.
type accountPlan struct {
	account oauth.Account
	info    channels.AccountInfo
	scopes  []string
}

func (s *server) connectGrant(c *gin.Context, ch channels.Channel, st store.OAuthState, grant oauth.Grant) {
	ctx := c.Request.Context()
	tok := grant.Token
	accounts, reconnect, ok := s.pickAccounts(c, ch, st, grant)
	if !ok {
		return
	}
	// Before any provider call or write: the grant's new accounts must fit the plan, all
	// of them, so a consent never connects some accounts and refuses the others.
	granted := make([]string, len(accounts))
	for i, a := range accounts {
		granted[i] = a.ID
	}
	if !s.connectionRoom(c, st.WorkspaceID, string(ch), granted, checkoutHint+", then connect again") {
		return
	}
	reader, ok := s.Connectors.Account(ch)
	if !ok {
		writeProblem(c, Problem{Type: typeNotSupported, Title: "Channel not supported", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("channel %s is not supported yet", ch)})
		return
	}
	// Ask the provider about every account before writing anything, so a failure leaves no
	// half-connected grant behind.
	plans := make([]accountPlan, 0, len(accounts))
	for _, a := range accounts {
		acct := channels.Account{ID: a.ID, Token: tok.Access, RefreshToken: tok.Refresh}
		infoCtx, cancel := context.WithTimeout(ctx, accountInfoTimeout)
		info, err := reader.AccountInfo(infoCtx, acct)
		cancel()
		if err != nil {
			s.providerProblem(c, ch, err, tok.Access, tok.Refresh)
			return
		}
		if info.Name == "" {
			info.Name = a.Name
		}
		plan := accountPlan{account: a, info: info}
		if ch == channels.Shopify {
			plan.scopes = grant.Scopes
			if hr, ok := reader.(channels.HistoryReader); ok && plan.scopes == nil {
				infoCtx, cancel := context.WithTimeout(ctx, accountInfoTimeout)
				h, err := hr.History(infoCtx, acct, time.Now())
				cancel()
				if err != nil {
					s.providerProblem(c, ch, err, tok.Access, tok.Refresh)
					return
				}
				plan.scopes = h.Scopes
			}
			if plan.scopes == nil {
				plan.scopes = []string{}
			}
		}
		plans = append(plans, plan)
	}
	var webhookIDs []string
	if ch == channels.Shopify {
		// Webhooks only make revenue live between syncs; a shop whose registration failed
		// still syncs, so the connection goes ahead and the failure is logged.
		ids, err := s.OAuth.RegisterShopifyWebhooks(ctx, st.Shop, tok.Access)
		if err != nil {
			s.log.WarnContext(ctx, "shopify webhook registration failed", "shop", st.Shop, "err", err)
		} else {
			webhookIDs = ids
		}
	}
	workspace, err := s.Store.GetWorkspace(ctx, st.WorkspaceID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	// Google connectors mint access tokens from the refresh token themselves, so the
	// stored access token's expiry means nothing for them; Meta's and Shopify's does.
	var expires *time.Time
	if !tok.ExpiresAt.IsZero() && !oauth.UsesPKCE(string(ch)) {
		expires = &tok.ExpiresAt
	}
	out := make([]Connection, 0, len(plans))
	var ids []string
	for _, plan := range plans {
		id := plan.account.ID
		sealed, err := s.Box.Seal([]byte(tok.Access), secretbox.ConnectionTokenAAD(st.WorkspaceID, string(ch), id))
		if err != nil {
			s.internal(c, "seal access token", err)
			return
		}
		var sealedRefresh []byte
		if tok.Refresh != "" {
			if sealedRefresh, err = s.Box.Seal([]byte(tok.Refresh), secretbox.ConnectionRefreshTokenAAD(st.WorkspaceID, string(ch), id)); err != nil {
				s.internal(c, "seal refresh token", err)
				return
			}
		}
		upsert := s.Store.UpsertOAuthConnection
		if s.enforcing() {
			upsert = s.Store.UpsertOAuthConnectionWithinPlan
		}
		conn, created, err := upsert(ctx, store.OAuthConnection{
			WorkspaceID: st.WorkspaceID, Channel: string(ch), ExternalAccountID: id, DisplayName: plan.info.Name,
			Timezone: s.accountTimezone(ctx, plan.info, workspace.Timezone), Currency: accountCurrency(plan.info, workspace.Currency),
			TokenCiphertext: sealed, RefreshTokenCiphertext: sealedRefresh, TokenExpiresAt: expires, ConnectedBy: st.UserID,
			Scopes: plan.scopes, WebhookIDs: webhookIDs, TokenKeyID: s.Box.KeyID(),
		})
		var limit *store.LimitError
		if errors.As(err, &limit) {
			// Another request took the slot since connectionRoom looked; the accounts
			// connected before this one stay connected.
			s.limitError(c, limit, checkoutHint+", then connect again")
			return
		}
		if err != nil {
			s.unavailable(c, "the database", err)
			return
		}
		if err := s.Syncs.EnsureSchedule(ctx, conn); err != nil {
			if created {
				// As for POST /v1/connections: a connection without its schedule would never
				// sync. A renewed one keeps its new tokens; its schedule existed before.
				undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				if derr := s.Store.DeleteConnection(undoCtx, st.WorkspaceID, conn.ID); derr != nil {
					s.log.ErrorContext(ctx, "undo connection after schedule failure", "connection_id", conn.ID, "err", derr)
				}
				cancel()
			}
			s.unavailable(c, "the scheduler", err)
			return
		}
		details := map[string]any{"channel": string(ch), "account_id": id, "via": "oauth", "reconnect": !created}
		if err := store.AppendAudit(ctx, s.Store.Pool, store.AuditEntry{
			WorkspaceID: st.WorkspaceID, ActorUserID: st.UserID, Actor: st.UserID, Action: "connection.connected",
			TargetType: "connection", TargetID: conn.ID, IP: clientIP(c), Details: details,
		}); err != nil {
			s.log.ErrorContext(ctx, "audit log write failed", "action", "connection.connected", "err", err)
		}
		s.log.InfoContext(ctx, "connection connected by oauth", "workspace_id", st.WorkspaceID, "connection_id", conn.ID,
			"channel", ch, "account_id", id, "created", created, "reconnect", reconnect != nil)
		dto := connectionDTO(conn)
		if ch == channels.Shopify {
			dto.HistoryFrom = historyFrom(shopify.HistoryOf(plan.scopes, time.Now()), conn.Timezone)
		}
		out = append(out, dto)
		ids = append(ids, conn.ID)
	}
	appURL := strings.TrimRight(s.Identity.AppURL, "/")
	if appURL != "" && appURL != strings.TrimRight(s.Identity.PublicURL, "/") &&
		c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) == gin.MIMEHTML {
		c.Redirect(http.StatusSeeOther, appURL+"/connections?connected="+strings.Join(ids, ","))
		return
	}
	c.JSON(http.StatusOK, ConnectionList{Connections: out})
}
