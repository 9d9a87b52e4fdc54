package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// NewAccount is a person signing up: the user and the workspace they will own.
type NewAccount struct {
	Email        string
	Name         string
	PasswordHash string
	Workspace    string
	Currency     string
	Timezone     string
}

// CreateAccount creates the user, their workspace and their owner membership in one
// transaction, so a failure leaves none of them. An email already registered is ErrConflict.
// Sign-up and `omnitrackiq admin create-user` both come here.
func (s *Store) CreateAccount(ctx context.Context, a NewAccount) (User, Workspace, error) {
	if strings.TrimSpace(a.Workspace) == "" {
		return User{}, Workspace{}, errors.New("create account: workspace name is empty")
	}
	if !money.IsCurrencyCode(a.Currency) {
		return User{}, Workspace{}, fmt.Errorf("create account: currency %q is not a 3-letter ISO code", a.Currency)
	}
	if _, err := time.LoadLocation(a.Timezone); err != nil || a.Timezone == "" || a.Timezone == "Local" {
		return User{}, Workspace{}, fmt.Errorf("create account: unknown timezone %q", a.Timezone)
	}
	var u User
	var w Workspace
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = CreateUser(ctx, tx, a.Email, a.Name, a.PasswordHash); err != nil {
			return err
		}
		if w, err = CreateWorkspaceTx(ctx, tx, a.Workspace, a.Currency, a.Timezone); err != nil {
			return err
		}
		return AddMember(ctx, tx, w.ID, u.ID, "owner")
	})
	if err != nil {
		return User{}, Workspace{}, err
	}
	return u, w, nil
}

// SetPassword replaces the user's password hash.
func SetPassword(ctx context.Context, q Querier, userID, passwordHash string) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, `UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now()
		WHERE id = $1 RETURNING `+userColumns, userID, passwordHash))
	if err != nil {
		return User{}, fmt.Errorf("set password of %s: %w", userID, err)
	}
	return u, nil
}

// SetUserName renames the user.
func (s *Store) SetUserName(ctx context.Context, userID, name string) (User, error) {
	if !isUUID(userID) {
		return User{}, ErrNotFound
	}
	u, err := scanUser(s.Pool.QueryRow(ctx, `UPDATE users SET name = $2, updated_at = now()
		WHERE id = $1 RETURNING `+userColumns, userID, name))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("rename user %s: %w", userID, err)
	}
	return u, err
}

// UserMembership is one workspace a user belongs to.
type UserMembership struct {
	WorkspaceID   string
	WorkspaceName string
	Role          string
}

// MembershipsOfUser lists the user's workspaces, oldest membership first.
func (s *Store) MembershipsOfUser(ctx context.Context, userID string) ([]UserMembership, error) {
	out := []UserMembership{}
	if !isUUID(userID) {
		return out, nil
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = $1 ORDER BY m.created_at, w.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships of %s: %w", userID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m UserMembership
		if err := rows.Scan(&m.WorkspaceID, &m.WorkspaceName, &m.Role); err != nil {
			return nil, fmt.Errorf("list memberships of %s: %w", userID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memberships of %s: %w", userID, err)
	}
	return out, nil
}
