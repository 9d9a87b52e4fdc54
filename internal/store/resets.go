package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Password-reset outcomes other than success.
var (
	ErrResetUsed    = errors.New("password reset token already used")
	ErrResetExpired = errors.New("password reset token expired")
)

// CreatePasswordReset stores a single-use reset token (its hash) for the user, valid for ttl.
func (s *Store) CreatePasswordReset(ctx context.Context, userID string, tokenHash []byte, ttl time.Duration) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO password_resets (user_id, token_hash, expires_at)
		VALUES ($1, $2, now() + make_interval(secs => $3::float8))`, userID, tokenHash, ttl.Seconds())
	if err != nil {
		return fmt.Errorf("store password reset of %s: %w", userID, err)
	}
	return nil
}

// ResetPassword spends the reset token: it sets the user's password hash, marks this and
// every other open reset token of the user used, and ends all the user's sessions, in one
// transaction. An unknown token is ErrNotFound; a used one ErrResetUsed; an expired one
// ErrResetExpired (both write nothing).
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string) (User, error) {
	var u User
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var userID string
		var used *time.Time
		var expired bool
		err := tx.QueryRow(ctx, `SELECT user_id, used_at, expires_at <= now() FROM password_resets
			WHERE token_hash = $1 FOR UPDATE`, tokenHash).Scan(&userID, &used, &expired)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("look up password reset: %w", err)
		}
		switch {
		case used != nil:
			return ErrResetUsed
		case expired:
			return ErrResetExpired
		}
		if u, err = SetPassword(ctx, tx, userID, passwordHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL`, userID); err != nil {
			return fmt.Errorf("spend password resets of %s: %w", userID, err)
		}
		return RevokeUserSessions(ctx, tx, userID)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}
