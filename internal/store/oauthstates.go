package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OAuthState is a consent in progress: the row a signed state names.
type OAuthState struct {
	ID          string
	WorkspaceID string
	UserID      string
	Provider    string
	// ConnectionID is the connection a reconnect replaces the tokens of; "" for a new connect.
	ConnectionID string
	Shop         string
	AccountIDs   []string
	// VerifierCiphertext is the sealed PKCE verifier (Google); nil for other providers.
	VerifierCiphertext []byte
	CreatedAt          time.Time
	ExpiresAt          time.Time
}

// NewOAuthState is what CreateOAuthState inserts.
type NewOAuthState struct {
	WorkspaceID, UserID, Provider, ConnectionID, Shop string
	AccountIDs                                        []string
	ExpiresAt                                         time.Time
	// Seal, if set, seals the PKCE verifier; it gets the new row's id, to bind the
	// ciphertext to this row.
	Seal func(id string) ([]byte, error)
}

// newUUID returns a random (version 4) UUID. The id of a state is chosen before the insert
// so that the verifier can be sealed under it.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// CreateOAuthState records a consent. Rows that expired a day ago are removed on the way:
// they can never be used, and nothing else reads them.
func (s *Store) CreateOAuthState(ctx context.Context, n NewOAuthState) (OAuthState, error) {
	id, err := newUUID()
	if err != nil {
		return OAuthState{}, err
	}
	var verifier []byte
	if n.Seal != nil {
		if verifier, err = n.Seal(id); err != nil {
			return OAuthState{}, fmt.Errorf("seal PKCE verifier: %w", err)
		}
	}
	if n.AccountIDs == nil {
		n.AccountIDs = []string{}
	}
	st := OAuthState{ID: id, WorkspaceID: n.WorkspaceID, UserID: n.UserID, Provider: n.Provider,
		ConnectionID: n.ConnectionID, Shop: n.Shop, AccountIDs: n.AccountIDs, VerifierCiphertext: verifier, ExpiresAt: n.ExpiresAt}
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO oauth_states (id, workspace_id, user_id, provider, connection_id, shop, account_ids,
				verifier_ciphertext, expires_at)
			VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, $9)
			RETURNING created_at`,
			id, n.WorkspaceID, n.UserID, n.Provider, n.ConnectionID, n.Shop, n.AccountIDs, verifier, n.ExpiresAt,
		).Scan(&st.CreatedAt)
	})
	if err != nil {
		return OAuthState{}, fmt.Errorf("create oauth state: %w", err)
	}
	return st, nil
}

// ConsumeOAuthState marks the state used and returns it, in one statement, so that of two
// concurrent callbacks with the same state only one gets it. A state that is unknown,
// already used or expired is ErrNotFound. The verifier is erased as the row is used.
func (s *Store) ConsumeOAuthState(ctx context.Context, id string) (OAuthState, error) {
	if !isUUID(id) {
		return OAuthState{}, ErrNotFound
	}
	var st OAuthState
	err := s.Pool.QueryRow(ctx, `
		WITH old AS (
			SELECT id, verifier_ciphertext FROM oauth_states
			WHERE id = $1 AND used_at IS NULL AND expires_at > now()
			FOR UPDATE
		)
		UPDATE oauth_states o SET used_at = now(), verifier_ciphertext = NULL
		FROM old WHERE o.id = old.id
		RETURNING o.id, o.workspace_id, o.user_id, o.provider, coalesce(o.connection_id::text, ''), o.shop,
			o.account_ids, old.verifier_ciphertext, o.created_at, o.expires_at`, id,
	).Scan(&st.ID, &st.WorkspaceID, &st.UserID, &st.Provider, &st.ConnectionID, &st.Shop, &st.AccountIDs,
		&st.VerifierCiphertext, &st.CreatedAt, &st.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return OAuthState{}, ErrNotFound
	}
	if err != nil {
		return OAuthState{}, fmt.Errorf("consume oauth state %s: %w", id, err)
	}
	return st, nil
}
