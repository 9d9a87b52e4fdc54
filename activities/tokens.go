package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// ErrTypeGrantDead: the provider refused to refresh the token for good (revoked, expired
// beyond refresh); the connection is flagged needs_reauth and only a reconnect helps.
const ErrTypeGrantDead = "TokenGrantDead"

// ErrTypeConnectionDisconnected: the user disconnected the connection; nothing runs on it.
const ErrTypeConnectionDisconnected = "ConnectionDisconnected"

// TokenRefresher refreshes a provider grant: Meta exchanges a long-lived token for a new
// one, Shopify redeems the refresh token of an expiring offline token. An error that
// implements interface{ NeedsReauth() bool } returning true means the grant is dead.
type TokenRefresher interface {
	// account is the connection's provider account (a Shopify shop names the host to call).
	Refresh(ctx context.Context, channel, account, accessToken, refreshToken string) (RefreshedToken, error)
}

// RefreshedToken is a provider's answer to a refresh. An empty Refresh keeps the old
// refresh token; a zero ExpiresAt means the new token does not expire.
type RefreshedToken struct {
	Access    string
	Refresh   string
	ExpiresAt time.Time
}

// needsReauth reports whether err says the grant is dead.
func needsReauth(err error) bool {
	var nr interface{ NeedsReauth() bool }
	return errors.As(err, &nr) && nr.NeedsReauth()
}

// ListExpiringInput pages through the connections whose tokens expire soon.
type ListExpiringInput struct {
	AfterID string
	Limit   int
	// MetaWithin and ShopifyWithin are how close to expiry a token is refreshed.
	MetaWithin    time.Duration
	ShopifyWithin time.Duration
}

// TokenRef names a connection whose token to refresh; ids only, never credentials.
type TokenRef struct {
	WorkspaceID  string
	ConnectionID string
}

// ListExpiringResult lists up to Limit connections, in id order.
type ListExpiringResult struct {
	Connections []TokenRef
}

// ListExpiringTokens lists the connections whose access tokens expire within the windows.
func (a *Sync) ListExpiringTokens(ctx context.Context, in ListExpiringInput) (ListExpiringResult, error) {
	now := a.now()
	refs, err := a.Store.ExpiringTokens(ctx, now.Add(in.MetaWithin), now.Add(in.ShopifyWithin), in.AfterID, in.Limit)
	if err != nil {
		return ListExpiringResult{}, err
	}
	out := ListExpiringResult{Connections: make([]TokenRef, 0, len(refs))}
	for _, r := range refs {
		out.Connections = append(out.Connections, TokenRef{WorkspaceID: r.WorkspaceID, ConnectionID: r.ID})
	}
	return out, nil
}

// Refresh outcomes.
const (
	RefreshRefreshed = "refreshed"
	// RefreshSkipped: the connection changed meanwhile (disconnected, reconnected, flagged).
	RefreshSkipped = "skipped"
)

// RefreshTokenResult says what RefreshToken did.
type RefreshTokenResult struct {
	Status string
}

// RefreshToken refreshes one connection's token and stores it re-sealed with its new
// expiry. It reads the token afresh on every attempt and stores the new one only over the
// one it started from, so a retried or raced attempt never stores a stale token. A dead
// grant flags the connection needs_reauth and fails with ErrTypeGrantDead (not retried).
func (a *Sync) RefreshToken(ctx context.Context, in TokenRef) (RefreshTokenResult, error) {
	if a.Refresher == nil {
		return RefreshTokenResult{}, temporal.NewNonRetryableApplicationError("no token refresher is configured", ErrTypeInvalidInput, nil)
	}
	conn, err := a.Store.GetConnection(ctx, in.WorkspaceID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return RefreshTokenResult{Status: RefreshSkipped}, nil
	}
	if err != nil {
		return RefreshTokenResult{}, err
	}
	if (conn.Status != store.ConnectionActive && conn.Status != store.ConnectionError) || len(conn.TokenCiphertext) == 0 {
		return RefreshTokenResult{Status: RefreshSkipped}, nil
	}
	acct, err := a.account(conn)
	if err != nil {
		return RefreshTokenResult{}, err
	}
	fresh, err := a.Refresher.Refresh(ctx, conn.Channel, conn.ExternalAccountID, acct.Token, acct.RefreshToken)
	if err != nil {
		// The message may become the connection's status_reason, which tenants read.
		msg := httpx.HideAddresses(redact(err.Error(), acct.Token, acct.RefreshToken))
		if needsReauth(err) {
			reason := "the provider refused to refresh the access token: " + msg
			flagCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if ferr := a.Store.MarkNeedsReauth(flagCtx, conn.WorkspaceID, conn.ID, reason); ferr != nil {
				return RefreshTokenResult{}, ferr
			}
			return RefreshTokenResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("connection %s: %s", conn.ID, reason), ErrTypeGrantDead, nil)
		}
		return RefreshTokenResult{}, temporal.NewApplicationError(
			fmt.Sprintf("refresh token of connection %s: %s", conn.ID, msg), ErrTypeProviderTransient)
	}
	if fresh.Access == "" {
		return RefreshTokenResult{}, temporal.NewApplicationError(
			fmt.Sprintf("refresh token of connection %s: the provider returned no access token", conn.ID), ErrTypeProviderTransient)
	}
	r := store.RefreshedToken{Previous: conn.TokenCiphertext, KeyID: a.Box.KeyID()}
	if r.Token, err = a.Box.Seal([]byte(fresh.Access), secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID)); err != nil {
		return RefreshTokenResult{}, err
	}
	if fresh.Refresh != "" {
		if r.Refresh, err = a.Box.Seal([]byte(fresh.Refresh), secretbox.ConnectionRefreshTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID)); err != nil {
			return RefreshTokenResult{}, err
		}
	} else if len(conn.RefreshTokenCiphertext) > 0 && a.Box.SealedKeyID(conn.RefreshTokenCiphertext) != a.Box.KeyID() {
		// The row's key id covers both tokens: keep the old refresh token, under the current key.
		if r.Refresh, err = a.Box.Seal([]byte(acct.RefreshToken), secretbox.ConnectionRefreshTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID)); err != nil {
			return RefreshTokenResult{}, err
		}
	}
	if !fresh.ExpiresAt.IsZero() {
		at := fresh.ExpiresAt
		r.ExpiresAt = &at
	}
	stored, err := a.Store.StoreRefreshedToken(ctx, conn.WorkspaceID, conn.ID, r)
	if err != nil {
		return RefreshTokenResult{}, err
	}
	if !stored {
		return RefreshTokenResult{Status: RefreshSkipped}, nil
	}
	a.logger().Info("token refreshed", "connection_id", conn.ID, "channel", conn.Channel)
	return RefreshTokenResult{Status: RefreshRefreshed}, nil
}

func redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// NotifyReauthResult says whether NotifyNeedsReauth sent the notice.
type NotifyReauthResult struct {
	Sent bool
}

// NotifyNeedsReauth emails the workspace's owner and admins that the connection needs to
// be reconnected, once per needs_reauth episode: retries and later calls send nothing more.
func (a *Sync) NotifyNeedsReauth(ctx context.Context, in TokenRef) (NotifyReauthResult, error) {
	sent, err := a.notifyReauth(ctx, in.WorkspaceID, in.ConnectionID)
	return NotifyReauthResult{Sent: sent}, err
}

// notifyReauth sends the needs_reauth notice if this episode's notice has not been claimed.
// The claim is taken before sending and given back if sending fails, so a failed send is
// retried by the next caller and a successful one is never repeated.
func (a *Sync) notifyReauth(ctx context.Context, workspaceID, connectionID string) (bool, error) {
	if a.Mailer == nil {
		a.logger().Warn("no mailer configured: needs_reauth notice not sent", "connection_id", connectionID)
		return false, nil
	}
	conn, claimed, err := a.Store.ClaimReauthNotice(ctx, workspaceID, connectionID)
	if err != nil || !claimed {
		return false, err
	}
	to, err := a.Store.WorkspaceAdminEmails(ctx, workspaceID)
	if err == nil && len(to) == 0 {
		// A workspace without people (API keys only) has nobody to tell; the claim stays.
		return false, nil
	}
	if err == nil {
		err = a.Mailer.Send(ctx, reauthMessage(conn, to, a.AppURL))
	}
	if err != nil {
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := a.Store.ReleaseReauthNotice(releaseCtx, workspaceID, connectionID); rerr != nil {
			a.logger().Error("release needs_reauth notice claim", "connection_id", connectionID, "err", rerr)
		}
		return false, fmt.Errorf("send needs_reauth notice of connection %s: %w", connectionID, err)
	}
	a.logger().Info("needs_reauth notice sent", "connection_id", connectionID, "recipients", len(to))
	return true, nil
}

// connectionName is how a person knows the connection.
func connectionName(c store.Connection) string {
	if strings.TrimSpace(c.DisplayName) != "" {
		return c.DisplayName
	}
	return c.Channel + " account " + c.ExternalAccountID
}

func reauthMessage(c store.Connection, to []string, appURL string) notify.Message {
	name := connectionName(c)
	link := strings.TrimRight(appURL, "/") + "/connections/" + c.ID
	reason := c.StatusReason
	if reason == "" {
		reason = "the provider no longer accepts its access token"
	}
	return notify.Message{
		To:      to,
		Subject: fmt.Sprintf("Your %s connection %q needs to be reconnected", c.Channel, name),
		Text: fmt.Sprintf("OmniTrackIQ can no longer read %q (%s account %s): %s.\n\n"+
			"Its data is kept, but it will not sync until someone reconnects it:\n%s\n",
			name, c.Channel, c.ExternalAccountID, reason, link),
	}
}

func (a *Sync) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
