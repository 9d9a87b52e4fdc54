package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrOwner is returned when a change would touch the workspace's owner, whose role only a
// transfer of ownership changes and who cannot be removed.
var ErrOwner = errors.New("the member is the workspace owner")

// ErrNotOwner is returned by TransferOwnership when the caller is no longer the owner
// (another transfer won).
var ErrNotOwner = errors.New("the user is not the workspace owner")

// Member is a user's membership of a workspace.
type Member struct {
	UserID   string
	Email    string
	Name     string
	Role     string
	JoinedAt time.Time
}

// UserWorkspace is a workspace the user belongs to, with the user's role there.
type UserWorkspace struct {
	Workspace
	Role     string
	JoinedAt time.Time
}

// UserWorkspaces lists the user's workspaces, oldest membership first.
func (s *Store) UserWorkspaces(ctx context.Context, userID string) ([]UserWorkspace, error) {
	if !isUUID(userID) {
		return []UserWorkspace{}, nil
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT w.id, w.name, w.currency, w.timezone, w.created_at, m.role, m.created_at
		FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = $1
		ORDER BY m.created_at, w.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list workspaces of user %s: %w", userID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserWorkspace, error) {
		var w UserWorkspace
		err := r.Scan(&w.ID, &w.Name, &w.Currency, &w.Timezone, &w.CreatedAt, &w.Role, &w.JoinedAt)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("scan workspaces of user %s: %w", userID, err)
	}
	return out, nil
}

// CreateOwnedWorkspace creates a workspace and makes the user its owner, in one
// transaction. Currency and timezone must have been checked by the caller.
func (s *Store) CreateOwnedWorkspace(ctx context.Context, userID, name, currency, timezone string) (Workspace, error) {
	var w Workspace
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if w, err = CreateWorkspaceTx(ctx, tx, name, currency, timezone); err != nil {
			return err
		}
		return AddMember(ctx, tx, w.ID, userID, "owner")
	})
	if err != nil {
		return Workspace{}, err
	}
	return w, nil
}

// WorkspaceUpdate names the settings to change; nil fields stay as they are.
type WorkspaceUpdate struct {
	Name, Currency, Timezone *string
}

// UpdateWorkspace changes the workspace's settings (checked by the caller) and returns it
// as it was before and after.
func (s *Store) UpdateWorkspace(ctx context.Context, id string, u WorkspaceUpdate) (before, after Workspace, err error) {
	if !isUUID(id) {
		return Workspace{}, Workspace{}, ErrNotFound
	}
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, name, currency, timezone, created_at FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, id).
			Scan(&before.ID, &before.Name, &before.Currency, &before.Timezone, &before.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			UPDATE workspaces SET name = coalesce($2, name), currency = coalesce($3, currency), timezone = coalesce($4, timezone)
			WHERE id = $1
			RETURNING id, name, currency, timezone, created_at`, id, u.Name, u.Currency, u.Timezone).
			Scan(&after.ID, &after.Name, &after.Currency, &after.Timezone, &after.CreatedAt)
	})
	if errors.Is(err, ErrNotFound) {
		return Workspace{}, Workspace{}, err
	}
	if err != nil {
		return Workspace{}, Workspace{}, fmt.Errorf("update workspace %s: %w", id, err)
	}
	return before, after, nil
}

const memberColumns = `m.user_id, u.email, u.name, m.role, m.created_at`

func scanMember(row pgx.Row) (Member, error) {
	var m Member
	err := row.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.JoinedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	return m, err
}

// ListMembers lists the workspace's members, oldest first.
func (s *Store) ListMembers(ctx context.Context, workspaceID string) ([]Member, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+memberColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 ORDER BY m.created_at, m.user_id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) { return scanMember(r) })
	if err != nil {
		return nil, fmt.Errorf("scan members of %s: %w", workspaceID, err)
	}
	return out, nil
}

// GetMember loads one member of the workspace; ErrNotFound if the user is not one.
func (s *Store) GetMember(ctx context.Context, workspaceID, userID string) (Member, error) {
	if !isUUID(workspaceID) || !isUUID(userID) {
		return Member{}, ErrNotFound
	}
	m, err := scanMember(s.Pool.QueryRow(ctx, `SELECT `+memberColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 AND m.user_id = $2`, workspaceID, userID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Member{}, fmt.Errorf("load member %s of %s: %w", userID, workspaceID, err)
	}
	return m, err
}

// SetMemberRole changes a member's role below owner and returns the member as it was
// before. The owner is ErrOwner; a user who is not a member is ErrNotFound. Setting
// "owner" is refused: that is TransferOwnership.
func (s *Store) SetMemberRole(ctx context.Context, workspaceID, userID, role string) (Member, error) {
	if role == "owner" {
		return Member{}, errors.New("set member role: owner is given by transferring ownership")
	}
	return s.changeNonOwner(ctx, workspaceID, userID, "set role of",
		`UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2`, role)
}

// RemoveMember ends a member's membership and returns it. The owner is ErrOwner.
func (s *Store) RemoveMember(ctx context.Context, workspaceID, userID string) (Member, error) {
	return s.changeNonOwner(ctx, workspaceID, userID, "remove member",
		`DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`)
}

// changeNonOwner runs stmt ($1 workspace, $2 user, then args) on a membership that is not
// the owner's and returns the membership as it was. The row lock makes the owner check and
// the change one step: a concurrent transfer that promotes this member either happened
// before (ErrOwner) or waits.
func (s *Store) changeNonOwner(ctx context.Context, workspaceID, userID, what, stmt string, args ...any) (Member, error) {
	if !isUUID(workspaceID) || !isUUID(userID) {
		return Member{}, ErrNotFound
	}
	var before Member
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		m, err := scanMember(tx.QueryRow(ctx, `SELECT `+memberColumns+`
			FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.workspace_id = $1 AND m.user_id = $2 FOR UPDATE OF m`, workspaceID, userID))
		if err != nil {
			return err
		}
		if m.Role == "owner" {
			return ErrOwner
		}
		before = m
		_, err = tx.Exec(ctx, stmt, append([]any{workspaceID, userID}, args...)...)
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOwner) {
		return Member{}, err
	}
	if err != nil {
		return Member{}, fmt.Errorf("%s %s in %s: %w", what, userID, workspaceID, err)
	}
	return before, nil
}

// TransferOwnership makes the member toUserID the owner and the current owner fromUserID an
// admin, in one transaction: the owner is demoted first so that the partial unique index
// memberships_one_owner never sees two owners. ErrNotOwner if fromUserID is not the owner
// (any more), ErrNotFound if toUserID is not a member.
func (s *Store) TransferOwnership(ctx context.Context, workspaceID, fromUserID, toUserID string) error {
	if !isUUID(workspaceID) || !isUUID(fromUserID) {
		return ErrNotOwner
	}
	if !isUUID(toUserID) {
		return ErrNotFound
	}
	if fromUserID == toUserID {
		return errors.New("transfer ownership: the owner cannot transfer to themselves")
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		// Two transfers racing both try to demote the same owner row; the second waits on its
		// lock, re-reads it as admin and matches nothing.
		tag, err := tx.Exec(ctx, `UPDATE memberships SET role = 'admin'
			WHERE workspace_id = $1 AND user_id = $2 AND role = 'owner'`, workspaceID, fromUserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotOwner
		}
		tag, err = tx.Exec(ctx, `UPDATE memberships SET role = 'owner'
			WHERE workspace_id = $1 AND user_id = $2`, workspaceID, toUserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotOwner) {
		return err
	}
	if err != nil {
		return fmt.Errorf("transfer ownership of %s to %s: %w", workspaceID, toUserID, err)
	}
	return nil
}
