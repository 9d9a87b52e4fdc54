package activities

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

type deadGrant struct{}

func (deadGrant) Error() string     { return "invalid_grant: token revoked" }
func (deadGrant) NeedsReauth() bool { return true }

// fakeRefresher answers by access token: "dead-*" is a dead grant, "flaky-*" a transient
// failure, anything else refreshes to "<token>+".
type fakeRefresher struct {
	mu    sync.Mutex
	calls []string
}

func (r *fakeRefresher) Refresh(_ context.Context, channel, _, access, refresh string) (RefreshedToken, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, channel+":"+access+":"+refresh)
	switch {
	case strings.HasPrefix(access, "dead-"):
		return RefreshedToken{}, deadGrant{}
	case strings.HasPrefix(access, "flaky-"):
		return RefreshedToken{}, errors.New("502 from provider while refreshing " + access)
	}
	out := RefreshedToken{Access: access + "+", ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	if channel == "shopify" {
		out.Refresh = refresh + "+"
	}
	return out, nil
}

type fakeMailer struct {
	mu   sync.Mutex
	sent []notify.Message
	fail int
}

func (m *fakeMailer) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return errors.New("smtp: 451 try again later")
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

type tokenFixture struct {
	st     *store.Store
	acts   *Sync
	mail   *fakeMailer
	ws     string
	now    time.Time
	byName map[string]store.Connection
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Tokens", "USD", "UTC")
	require.NoError(t, err)
	for _, m := range []struct{ email, role string }{
		{"owner@example.com", "owner"}, {"admin@example.com", "admin"}, {"member@example.com", "member"}, {"viewer@example.com", "viewer"},
	} {
		u, err := store.CreateUser(ctx, st.Pool, m.email, m.role, "x")
		require.NoError(t, err)
		require.NoError(t, store.AddMember(ctx, st.Pool, ws.ID, u.ID, m.role))
	}
	old, err := secretbox.NewKeyring(secretbox.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	require.NoError(t, err)
	box, err := secretbox.NewKeyring(secretbox.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)},
		secretbox.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	require.NoError(t, err)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f := &tokenFixture{st: st, ws: ws.ID, now: now, mail: &fakeMailer{}, byName: map[string]store.Connection{}}
	f.acts = &Sync{Store: st, Box: box, Refresher: &fakeRefresher{}, Mailer: f.mail, AppURL: "https://app.example.com/",
		Now: func() time.Time { return now }}
	for _, c := range []struct {
		name, channel, account, token, refresh string
		expires                                time.Duration
		status                                 string
	}{
		{"meta-soon", "meta", "1", "meta-tok", "", 3 * 24 * time.Hour, "active"},
		{"meta-later", "meta", "2", "meta-tok2", "", 30 * 24 * time.Hour, "active"},
		{"meta-dead", "meta", "3", "dead-meta", "", 2 * 24 * time.Hour, "error"},
		{"meta-flaky", "meta", "4", "flaky-meta", "", 24 * time.Hour, "active"},
		{"meta-reauth", "meta", "5", "meta-tok5", "", 24 * time.Hour, "needs_reauth"},
		{"shop-soon", "shopify", "s.myshopify.com", "shpat", "shprt", 2 * time.Hour, "active"},
		{"shop-expired", "shopify", "e.myshopify.com", "shpat-e", "shprt-e", -time.Hour, "active"},
		{"shop-offline", "shopify", "o.myshopify.com", "shpat-o", "", 2 * time.Hour, "active"},
		{"shop-later", "shopify", "l.myshopify.com", "shpat-l", "shprt-l", 3 * 24 * time.Hour, "active"},
		{"tiktok", "tiktok", "7", "tt", "", time.Hour, "active"},
	} {
		tok, err := old.Seal([]byte(c.token), secretbox.ConnectionTokenAAD(ws.ID, c.channel, c.account))
		require.NoError(t, err)
		var ref []byte
		if c.refresh != "" {
			ref, err = old.Seal([]byte(c.refresh), secretbox.ConnectionRefreshTokenAAD(ws.ID, c.channel, c.account))
			require.NoError(t, err)
		}
		exp := now.Add(c.expires)
		conn, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: ws.ID, Channel: c.channel, ExternalAccountID: c.account,
			DisplayName: "Acct " + c.name, TokenCiphertext: tok, RefreshTokenCiphertext: ref, TokenKeyID: "k1", TokenExpiresAt: &exp,
			Timezone: "UTC", Currency: "USD"})
		require.NoError(t, err)
		if c.status != "active" {
			require.NoError(t, st.SetConnectionStatus(ctx, ws.ID, conn.ID, c.status, "set by the test"))
		}
		f.byName[c.name] = conn
	}
	return f
}

func (f *tokenFixture) ref(name string) TokenRef {
	return TokenRef{WorkspaceID: f.ws, ConnectionID: f.byName[name].ID}
}

func (f *tokenFixture) load(t *testing.T, name string) store.Connection {
	t.Helper()
	c, err := f.st.GetConnection(context.Background(), f.ws, f.byName[name].ID)
	require.NoError(t, err)
	return c
}

func TestListExpiringTokens(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	in := ListExpiringInput{Limit: 100, MetaWithin: 7 * 24 * time.Hour, ShopifyWithin: 24 * time.Hour}
	res, err := f.acts.ListExpiringTokens(ctx, in)
	require.NoError(t, err)
	var got []string
	for _, r := range res.Connections {
		require.Equal(t, f.ws, r.WorkspaceID)
		for name, c := range f.byName {
			if c.ID == r.ConnectionID {
				got = append(got, name)
			}
		}
	}
	slices.Sort(got)
	require.Equal(t, []string{"meta-dead", "meta-flaky", "meta-soon", "shop-expired", "shop-soon"}, got)

	// Paging by id returns the same set in pieces.
	in.Limit = 2
	var paged []string
	for {
		res, err := f.acts.ListExpiringTokens(ctx, in)
		require.NoError(t, err)
		for _, r := range res.Connections {
			paged = append(paged, r.ConnectionID)
		}
		if len(res.Connections) < in.Limit {
			break
		}
		in.AfterID = res.Connections[len(res.Connections)-1].ConnectionID
	}
	require.Len(t, paged, 5)
}

func TestRefreshTokenStoresItSealed(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	onlyNew, err := secretbox.NewKeyring(secretbox.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)})
	require.NoError(t, err)

	res, err := f.acts.RefreshToken(ctx, f.ref("meta-soon"))
	require.NoError(t, err)
	require.Equal(t, RefreshRefreshed, res.Status)
	c := f.load(t, "meta-soon")
	tok, err := onlyNew.Open(c.TokenCiphertext, secretbox.ConnectionTokenAAD(f.ws, "meta", "1"))
	require.NoError(t, err)
	require.Equal(t, "meta-tok+", string(tok))
	require.Equal(t, "k2", c.TokenKeyID)
	require.True(t, c.TokenExpiresAt.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.Nil(t, c.RefreshTokenCiphertext)

	// Shopify: a new refresh token replaces the old one, under the new key.
	_, err = f.acts.RefreshToken(ctx, f.ref("shop-expired"))
	require.NoError(t, err)
	c = f.load(t, "shop-expired")
	ref, err := onlyNew.Open(c.RefreshTokenCiphertext, secretbox.ConnectionRefreshTokenAAD(f.ws, "shopify", "e.myshopify.com"))
	require.NoError(t, err)
	require.Equal(t, "shprt-e+", string(ref))

	// A retried attempt starts from the stored token: it never stores an older one.
	_, err = f.acts.RefreshToken(ctx, f.ref("meta-soon"))
	require.NoError(t, err)
	c = f.load(t, "meta-soon")
	tok, _ = onlyNew.Open(c.TokenCiphertext, secretbox.ConnectionTokenAAD(f.ws, "meta", "1"))
	require.Equal(t, "meta-tok++", string(tok))

	// A disconnected connection is left alone.
	_, err = f.st.DisconnectConnection(ctx, f.ws, f.byName["shop-soon"].ID)
	require.NoError(t, err)
	res, err = f.acts.RefreshToken(ctx, f.ref("shop-soon"))
	require.NoError(t, err)
	require.Equal(t, RefreshSkipped, res.Status)
	require.Empty(t, f.load(t, "shop-soon").TokenCiphertext)
}

func TestRefreshTokenTransientFailureRetries(t *testing.T) {
	f := newTokenFixture(t)
	_, err := f.acts.RefreshToken(context.Background(), f.ref("meta-flaky"))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.False(t, appErr.NonRetryable())
	require.Equal(t, ErrTypeProviderTransient, appErr.Type())
	require.NotContains(t, err.Error(), "flaky-meta", "the token is redacted from the error")
	require.Equal(t, "active", f.load(t, "meta-flaky").Status)
}

func TestDeadGrantNotifiesAdminsOncePerEpisode(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	ref := f.ref("meta-dead")

	_, err := f.acts.RefreshToken(ctx, ref)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.Equal(t, ErrTypeGrantDead, appErr.Type())
	c := f.load(t, "meta-dead")
	require.Equal(t, store.ConnectionNeedsReauth, c.Status)
	require.Contains(t, c.StatusReason, "invalid_grant")

	// The mail relay fails once: the claim is given back and the retry sends.
	f.mail.fail = 1
	_, err = f.acts.NotifyNeedsReauth(ctx, ref)
	require.Error(t, err)
	require.Equal(t, 0, f.mail.count())
	for range 3 {
		_, err = f.acts.NotifyNeedsReauth(ctx, ref)
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.mail.count())
	msg := f.mail.sent[0]
	require.Equal(t, []string{"admin@example.com", "owner@example.com"}, msg.To)
	require.Contains(t, msg.Subject, "needs to be reconnected")
	require.Contains(t, msg.Subject, "Acct meta-dead")
	require.Contains(t, msg.Text, "https://app.example.com/connections/"+c.ID)
	require.NotContains(t, msg.Text, "dead-meta")

	// The sync path flags and notifies through the same claim: nothing more this episode.
	authErr := &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, HTTPStatus: 401, Message: "token expired"}
	_ = f.acts.classify(ctx, c, authErr)
	_, _ = f.acts.PrepareSync(ctx, PrepareInput{WorkspaceID: f.ws, ConnectionID: c.ID, Kind: "incremental"})
	require.Equal(t, 1, f.mail.count())

	// Reconnected (active again), then broken again: a new episode, a new notice.
	require.NoError(t, f.st.SetConnectionStatus(ctx, f.ws, c.ID, store.ConnectionActive, ""))
	_ = f.acts.classify(ctx, f.load(t, "meta-dead"), authErr)
	_ = f.acts.classify(ctx, f.load(t, "meta-dead"), authErr)
	require.Equal(t, 2, f.mail.count())
	require.Equal(t, store.ConnectionNeedsReauth, f.load(t, "meta-dead").Status)

	// A notice that failed on the sync path is caught up by the next PrepareSync.
	require.NoError(t, f.st.SetConnectionStatus(ctx, f.ws, c.ID, store.ConnectionActive, ""))
	f.mail.fail = 1
	_ = f.acts.classify(ctx, f.load(t, "meta-dead"), authErr)
	require.Equal(t, 2, f.mail.count())
	_, err = f.acts.PrepareSync(ctx, PrepareInput{WorkspaceID: f.ws, ConnectionID: c.ID, Kind: "incremental"})
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeNeedsReauth, appErr.Type())
	require.Equal(t, 3, f.mail.count())
}

func TestDisconnectedConnectionIsNotFlagged(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	c := f.byName["meta-soon"]
	_, err := f.st.DisconnectConnection(ctx, f.ws, c.ID)
	require.NoError(t, err)
	_ = f.acts.classify(ctx, c, &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, Message: "expired"})
	require.Equal(t, store.ConnectionDisconnected, f.load(t, "meta-soon").Status)
	require.Equal(t, 0, f.mail.count())
	_, err = f.acts.PrepareSync(ctx, PrepareInput{WorkspaceID: f.ws, ConnectionID: c.ID, Kind: "incremental"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeConnectionDisconnected, appErr.Type())
	require.True(t, appErr.NonRetryable())
	list, err := f.acts.ListConnections(ctx, ListConnectionsInput{WorkspaceID: f.ws})
	require.NoError(t, err)
	for _, r := range list.Syncable {
		require.NotEqual(t, c.ID, r.ID)
	}
	for _, r := range list.Skipped {
		require.NotEqual(t, c.ID, r.ID)
	}
}

// A connection the provider cut off (Shopify app uninstalled) is not synced, and its
// scheduled syncs do not turn it into a needs_reauth episode.
func TestDisabledConnectionIsNotSynced(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	c := f.byName["meta-soon"]
	_, err := f.st.Pool.Exec(ctx, `UPDATE connections SET status = 'disabled', status_reason = 'app uninstalled' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = f.acts.PrepareSync(ctx, PrepareInput{WorkspaceID: f.ws, ConnectionID: c.ID, Kind: "incremental"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Error(), "app uninstalled")
	require.Equal(t, "disabled", f.load(t, "meta-soon").Status)
	require.Equal(t, 0, f.mail.count())
}
