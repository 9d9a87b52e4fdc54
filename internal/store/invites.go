package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Why an invite cannot be accepted any more.
var (
	ErrInviteAccepted = errors.New("the invite was already accepted")
	ErrInviteRevoked  = errors.New("the invite was revoked")
	ErrInviteExpired  = errors.New("the invite has expired")
)

// ErrAlreadyMember is returned when the invited email already belongs to a member.
var ErrAlreadyMember = errors.New("the user is already a member of the workspace")

// ErrEmailMismatch is returned when a signed-in user accepts an invite sent to another email.
var ErrEmailMismatch = errors.New("the invite was sent to another email address")

// Invite is an invitation to join a workspace. Its token is stored as a SHA-256 only.
type Invite struct {
	ID            string
	WorkspaceID   string
	WorkspaceName string
	Email         string
	Role          string
	InvitedBy     string // "" once the inviter's account is deleted
	CreatedAt     time.Time
	ExpiresAt     time.Time
	AcceptedAt    *time.Time
	AcceptedBy    string
	RevokedAt     *time.Time
}

// Usable says why the invite cannot be accepted at now, or returns nil.
func (i Invite) Usable(now time.Time) error {
	switch {
	case i.AcceptedAt != nil:
		return ErrInviteAccepted
	case i.RevokedAt != nil:
		return ErrInviteRevoked
	case !now.Before(i.ExpiresAt):
		return ErrInviteExpired
	}
	return nil
}

const inviteColumns = `i.id, i.workspace_id, w.name, i.email, i.role, coalesce(i.invited_by::text, ''),
	i.created_at, i.expires_at, i.accepted_at, coalesce(i.accepted_by::text, ''), i.revoked_at`

const inviteFrom = ` FROM invites i JOIN workspaces w ON w.id = i.workspace_id `

func scanInvite(row pgx.Row) (Invite, error) {
	var i Invite
	err := row.Scan(&i.ID, &i.WorkspaceID, &i.WorkspaceName, &i.Email, &i.Role, &i.InvitedBy,
		&i.CreatedAt, &i.ExpiresAt, &i.AcceptedAt, &i.AcceptedBy, &i.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Invite{}, ErrNotFound
	}
	return i, err
}

// NewInvite is an invite to create.
type NewInvite struct {
	WorkspaceID string
	Email       string
	Role        string // admin, member or viewer
	InvitedBy   string
	TokenHash   []byte
	ExpiresAt   time.Time
}

// CreateInviteTx stores an invite in the transaction and revokes the pending invites for
// the same email in the workspace, returning their ids. An email that already belongs to
// a member is ErrAlreadyMember.
func CreateInviteTx(ctx context.Context, tx pgx.Tx, n NewInvite) (Invite, []string, error) {
	email := NormalizeEmail(n.Email)
	// Serializes invites of one email to one workspace, so two concurrent invites cannot
	// both stay pending.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('invite:' || $1::text || ':' || $2::text, 0))`,
		n.WorkspaceID, email); err != nil {
		return Invite{}, nil, fmt.Errorf("create invite: lock: %w", err)
	}
	var member bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 AND u.email = $2)`, n.WorkspaceID, email).Scan(&member); err != nil {
		return Invite{}, nil, fmt.Errorf("create invite: check membership: %w", err)
	}
	if member {
		return Invite{}, nil, ErrAlreadyMember
	}
	rows, err := tx.Query(ctx, `UPDATE invites SET revoked_at = now()
		WHERE workspace_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL
		RETURNING id::text`, n.WorkspaceID, email)
	if err != nil {
		return Invite{}, nil, fmt.Errorf("create invite: revoke pending: %w", err)
	}
	replaced, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Invite{}, nil, fmt.Errorf("create invite: revoke pending: %w", err)
	}
	inv, err := scanInvite(tx.QueryRow(ctx, `
		WITH i AS (
			INSERT INTO invites (workspace_id, email, role, token_hash, invited_by, expires_at)
			VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6)
			RETURNING *
		)
		SELECT `+inviteColumns+` FROM i JOIN workspaces w ON w.id = i.workspace_id`,
		n.WorkspaceID, email, n.Role, n.TokenHash, n.InvitedBy, n.ExpiresAt))
	if err != nil {
		return Invite{}, nil, fmt.Errorf("create invite: %w", err)
	}
	return inv, replaced, nil
}

// PendingInvites lists the workspace's invites that can still be accepted, newest first.
func (s *Store) PendingInvites(ctx context.Context, workspaceID string) ([]Invite, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+inviteColumns+inviteFrom+`
		WHERE i.workspace_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
		ORDER BY i.created_at DESC, i.id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list invites of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invite, error) { return scanInvite(r) })
	if err != nil {
		return nil, fmt.Errorf("scan invites of %s: %w", workspaceID, err)
	}
	return out, nil
}

// RevokeInvite revokes an invite of the workspace and reports whether this call revoked
// it. An accepted invite is ErrInviteAccepted; another workspace's is ErrNotFound.
func (s *Store) RevokeInvite(ctx context.Context, workspaceID, id string) (Invite, bool, error) {
	if !isUUID(workspaceID) || !isUUID(id) {
		return Invite{}, false, ErrNotFound
	}
	var inv Invite
	var revoked bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRow(ctx, `SELECT `+inviteColumns+inviteFrom+`
			WHERE i.workspace_id = $1 AND i.id = $2 FOR UPDATE OF i`, workspaceID, id))
		if err != nil {
			return err
		}
		switch {
		case inv.AcceptedAt != nil:
			return ErrInviteAccepted
		case inv.RevokedAt != nil:
			return nil
		}
		revoked = true
		return tx.QueryRow(ctx, `UPDATE invites SET revoked_at = now() WHERE id = $1 RETURNING revoked_at`, id).Scan(&inv.RevokedAt)
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInviteAccepted) {
		return Invite{}, false, err
	}
	if err != nil {
		return Invite{}, false, fmt.Errorf("revoke invite %s: %w", id, err)
	}
	return inv, revoked, nil
}

// InviteByTokenHash loads an invite by its token's hash, whatever its state.
func (s *Store) InviteByTokenHash(ctx context.Context, hash []byte) (Invite, error) {
	inv, err := scanInvite(s.Pool.QueryRow(ctx, `SELECT `+inviteColumns+inviteFrom+`WHERE i.token_hash = $1`, hash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Invite{}, fmt.Errorf("look up invite: %w", err)
	}
	return inv, err
}

// AcceptInvite accepts the invite of the token hash in one transaction: it locks the
// invite, checks it can still be accepted (ErrInviteAccepted, ErrInviteRevoked,
// ErrInviteExpired, ErrNotFound), calls join to obtain the joining user (creating them if
// need be, in the same transaction), adds the membership with the invite's role and marks
// the invite accepted. A second accept of the same token waits on the lock and then sees
// it accepted, so an invite is used once.
func (s *Store) AcceptInvite(ctx context.Context, hash []byte, join func(tx pgx.Tx, inv Invite) (userID string, err error)) (Invite, error) {
	var inv Invite
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRow(ctx, `SELECT `+inviteColumns+inviteFrom+`WHERE i.token_hash = $1 FOR UPDATE OF i`, hash))
		if err != nil {
			return err
		}
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		if err := inv.Usable(now); err != nil {
			return err
		}
		userID, err := join(tx, inv)
		if err != nil {
			return err
		}
		if err := AddMember(ctx, tx, inv.WorkspaceID, userID, inv.Role); err != nil {
			if errors.Is(err, ErrConflict) {
				return ErrAlreadyMember
			}
			return err
		}
		inv.AcceptedBy = userID
		return tx.QueryRow(ctx, `UPDATE invites SET accepted_at = now(), accepted_by = $2 WHERE id = $1 RETURNING accepted_at`,
			inv.ID, userID).Scan(&inv.AcceptedAt)
	})
	if err != nil {
		return Invite{}, fmt.Errorf("accept invite: %w", err)
	}
	return inv, nil
}

// JoinAs is a join function for AcceptInvite that admits an existing user whose email is
// the invite's (compared case-insensitively), else ErrEmailMismatch.
func JoinAs(u User) func(pgx.Tx, Invite) (string, error) {
	return func(_ pgx.Tx, inv Invite) (string, error) {
		if !strings.EqualFold(NormalizeEmail(u.Email), inv.Email) {
			return "", ErrEmailMismatch
		}
		return u.ID, nil
	}
}
