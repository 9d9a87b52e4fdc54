package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// User is a person who signs in. PasswordHash is a bcrypt hash.
type User struct {
	ID                string
	Email             string
	Name              string
	PasswordHash      string
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const userColumns = `id, email, name, password_hash, password_changed_at, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.PasswordChangedAt, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// NormalizeEmail is the stored form of an email address: trimmed and lower-cased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Querier is what both the pool and a transaction offer, so one method serves both.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateUser inserts a user; an email already taken is ErrConflict.
func CreateUser(ctx context.Context, q Querier, email, name, passwordHash string) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, `
		INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3)
		RETURNING `+userColumns, NormalizeEmail(email), name, passwordHash))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return User{}, fmt.Errorf("create user: email already registered: %w", ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// GetUser loads a user by id.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	if !isUUID(id) {
		return User{}, ErrNotFound
	}
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, err
}

// UserByEmail loads a user by email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, NormalizeEmail(email)))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("load user by email: %w", err)
	}
	return u, err
}

// CreateWorkspaceTx inserts a workspace in the transaction (see CreateWorkspace for the checks).
func CreateWorkspaceTx(ctx context.Context, q Querier, name, currency, timezone string) (Workspace, error) {
	var w Workspace
	err := q.QueryRow(ctx, `
		INSERT INTO workspaces (name, currency, timezone) VALUES ($1, $2, $3)
		RETURNING id, name, currency, timezone, created_at`, name, currency, timezone).
		Scan(&w.ID, &w.Name, &w.Currency, &w.Timezone, &w.CreatedAt)
	if err != nil {
		return Workspace{}, fmt.Errorf("create workspace %q: %w", name, err)
	}
	return w, nil
}

// AddMember makes the user a member of the workspace with the role; an existing
// membership is ErrConflict.
func AddMember(ctx context.Context, q Querier, workspaceID, userID, role string) error {
	_, err := q.Exec(ctx, `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)`,
		workspaceID, userID, role)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("add member %s to workspace %s: %w", userID, workspaceID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add member %s to workspace %s: %w", userID, workspaceID, err)
	}
	return nil
}

// MembershipRole is the user's role in the workspace, or ErrNotFound when the user is not
// a member (or either id is malformed).
func (s *Store) MembershipRole(ctx context.Context, userID, workspaceID string) (string, error) {
	if !isUUID(userID) || !isUUID(workspaceID) {
		return "", ErrNotFound
	}
	var role string
	err := s.ctl().QueryRow(ctx, `SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2`,
		userID, workspaceID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("load membership of %s in %s: %w", userID, workspaceID, err)
	}
	return role, nil
}

// SessionActive reports whether the refresh-token family (a signed-in session) of the user
// exists and is not revoked. Access tokens of a revoked session are refused with it.
func (s *Store) SessionActive(ctx context.Context, userID, familyID string) (bool, error) {
	if !isUUID(userID) || !isUUID(familyID) {
		return false, nil
	}
	var ok bool
	err := s.ctl().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM refresh_families
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL)`, familyID, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check session %s: %w", familyID, err)
	}
	return ok, nil
}

// KeyPrincipal is what an API key authenticates as.
type KeyPrincipal struct {
	KeyID       string
	WorkspaceID string
	Prefix      string
	Scope       string
}

// APIKeyPrincipal resolves an unrevoked key by its hash, recording its use at most once a
// minute (see WorkspaceForAPIKeyHash).
func (s *Store) APIKeyPrincipal(ctx context.Context, hash []byte) (KeyPrincipal, error) {
	var p KeyPrincipal
	err := s.ctl().QueryRow(ctx, `
		WITH k AS (
			SELECT id, workspace_id, prefix, scope, last_used_at FROM api_keys
			WHERE key_hash = $1 AND revoked_at IS NULL
		), touched AS (
			UPDATE api_keys a SET last_used_at = now()
			FROM k
			WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
		)
		SELECT id, workspace_id, prefix, scope FROM k`, hash).Scan(&p.KeyID, &p.WorkspaceID, &p.Prefix, &p.Scope)
	if errors.Is(err, pgx.ErrNoRows) {
		return KeyPrincipal{}, ErrNotFound
	}
	if err != nil {
		return KeyPrincipal{}, fmt.Errorf("look up api key: %w", err)
	}
	return p, nil
}

// AuditEntry is one security-relevant action.
type AuditEntry struct {
	ID            int64
	WorkspaceID   string // "" for actions outside a workspace (sign-in)
	ActorUserID   string
	ActorAPIKeyID string
	Actor         string
	Action        string
	TargetType    string
	TargetID      string
	IP            string
	Details       map[string]any
	At            time.Time
}

// AppendAudit records an entry. Details must never hold a secret.
func AppendAudit(ctx context.Context, q Querier, e AuditEntry) error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	_, err := q.Exec(ctx, `
		INSERT INTO audit_log (workspace_id, actor_user_id, actor_api_key_id, actor, action, target_type, target_id, ip, details)
		VALUES (nullif($1, '')::uuid, nullif($2, '')::uuid, nullif($3, '')::uuid, $4, $5, $6, $7, $8, $9)`,
		e.WorkspaceID, e.ActorUserID, e.ActorAPIKeyID, e.Actor, e.Action, e.TargetType, e.TargetID, e.IP, e.Details)
	if err != nil {
		return fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	return nil
}
