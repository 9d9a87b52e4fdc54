package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A signed-in session is a refresh-token family: the token handed out at sign-in and every
// token that replaced it by rotation. Access tokens name their family (the JWT's sid), so
// revoking the family ends the session everywhere at once.

// Refresh-token outcomes other than success.
var (
	// ErrRefreshReused: the token was already rotated or revoked; its family is now revoked.
	ErrRefreshReused = errors.New("refresh token reused")
	// ErrRefreshRevoked: the family was already revoked (logout, password change, reuse).
	ErrRefreshRevoked = errors.New("refresh token revoked")
	// ErrRefreshExpired: the family's absolute lifetime is over.
	ErrRefreshExpired = errors.New("refresh token expired")
)

// Session is a refresh-token family of a user.
type Session struct {
	FamilyID  string
	UserID    string
	ExpiresAt time.Time
}

// StartSession creates a family for the user with its first refresh token (stored as its
// hash), valid until expiresAt.
func StartSession(ctx context.Context, q Querier, userID string, tokenHash []byte, expiresAt time.Time) (Session, error) {
	var fam string
	if err := q.QueryRow(ctx, `INSERT INTO refresh_families (id, user_id) VALUES (gen_random_uuid(), $1) RETURNING id`,
		userID).Scan(&fam); err != nil {
		return Session{}, fmt.Errorf("start session of %s: %w", userID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)`,
		fam, userID, tokenHash, expiresAt); err != nil {
		return Session{}, fmt.Errorf("store refresh token of %s: %w", userID, err)
	}
	return Session{FamilyID: fam, UserID: userID, ExpiresAt: expiresAt}, nil
}

// RotateRefresh exchanges the token of oldHash for a new one (newHash) in the same family,
// keeping the family's absolute expiry. A rotated token of a live family revokes the whole
// family and returns ErrRefreshReused; a token of a revoked family is ErrRefreshRevoked; an
// unknown token is ErrNotFound; an expired one ErrRefreshExpired.
func (s *Store) RotateRefresh(ctx context.Context, oldHash, newHash []byte) (Session, error) {
	var out Session
	var reused, revokedBefore bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var tokenID string
		var rotated, revoked, famRevoked *time.Time
		var expired bool
		// Locking the token row serialises two refreshes with the same token: the second
		// sees rotated_at set and is treated as the reuse it is.
		err := tx.QueryRow(ctx, `
			SELECT t.id, t.family_id, t.user_id, t.expires_at, t.expires_at <= now(), t.rotated_at, t.revoked_at, f.revoked_at
			FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
			WHERE t.token_hash = $1
			FOR UPDATE OF t`, oldHash).
			Scan(&tokenID, &out.FamilyID, &out.UserID, &out.ExpiresAt, &expired, &rotated, &revoked, &famRevoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("look up refresh token: %w", err)
		}
		if famRevoked != nil || revoked != nil {
			revokedBefore = true
			return nil
		}
		if rotated != nil {
			reused = true
			return revokeFamilies(ctx, tx, `id = $1`, out.FamilyID)
		}
		if expired {
			return ErrRefreshExpired
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1`, tokenID); err != nil {
			return fmt.Errorf("mark refresh token rotated: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)`,
			out.FamilyID, out.UserID, newHash, out.ExpiresAt); err != nil {
			return fmt.Errorf("store rotated refresh token: %w", err)
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	switch {
	case reused:
		// The revocation is committed; the caller still gets no tokens.
		return out, ErrRefreshReused
	case revokedBefore:
		return out, ErrRefreshRevoked
	}
	return out, nil
}

// revokeFamilies revokes the families matching where (over refresh_families, with args as
// $1...) and every token in them.
func revokeFamilies(ctx context.Context, q Querier, where string, args ...any) error {
	if _, err := q.Exec(ctx, `
		WITH f AS (
			UPDATE refresh_families SET revoked_at = coalesce(revoked_at, now()) WHERE `+where+` RETURNING id
		)
		UPDATE refresh_tokens SET revoked_at = now() WHERE family_id IN (SELECT id FROM f) AND revoked_at IS NULL`, args...); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// RevokeSession ends one session of the user (logout). Another user's family is left alone.
func (s *Store) RevokeSession(ctx context.Context, userID, familyID string) error {
	if !isUUID(userID) || !isUUID(familyID) {
		return nil
	}
	return revokeFamilies(ctx, s.Pool, `id = $1 AND user_id = $2`, familyID, userID)
}

// RevokeSessionByToken ends the session of a refresh token if it belongs to the user.
func (s *Store) RevokeSessionByToken(ctx context.Context, userID string, tokenHash []byte) error {
	if !isUUID(userID) {
		return nil
	}
	return revokeFamilies(ctx, s.Pool, `user_id = $1 AND id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)`, userID, tokenHash)
}

// RevokeUserSessions ends every session of the user (password change or reset).
func RevokeUserSessions(ctx context.Context, q Querier, userID string) error {
	return revokeFamilies(ctx, q, `user_id = $1`, userID)
}
