package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
)

// Standing is what the API and the sync workflows check a workspace's actions against: its
// effective plan and its dunning state.
type Standing struct {
	Plan         billing.Plan
	DunningState billing.DunningState
}

// standingQuery reads a workspace's standing in one query; a workspace without a billing
// account is on free with no dunning.
const standingQuery = `SELECT coalesce(b.plan, 'free'), coalesce(b.dunning_state, 'none')
	FROM workspaces w LEFT JOIN billing_accounts b ON b.workspace_id = w.id WHERE w.id = $1`

func scanStanding(row pgx.Row) (Standing, error) {
	var plan, state string
	if err := row.Scan(&plan, &state); err != nil {
		return Standing{}, err
	}
	// The webhook stores the effective plan; an id the catalog no longer has grants free.
	p, ok := billing.PlanByID(billing.PlanID(plan))
	if !ok {
		p, _ = billing.PlanByID(billing.Free)
	}
	return Standing{Plan: p, DunningState: billing.DunningState(state)}, nil
}

// BillingStanding returns the workspace's plan and dunning state; an unknown workspace is
// ErrNotFound.
func (s *Store) BillingStanding(ctx context.Context, workspaceID string) (Standing, error) {
	if !isUUID(workspaceID) {
		return Standing{}, ErrNotFound
	}
	st, err := scanStanding(s.Pool.QueryRow(ctx, standingQuery, workspaceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Standing{}, ErrNotFound
	}
	if err != nil {
		return Standing{}, fmt.Errorf("load billing standing of %s: %w", workspaceID, err)
	}
	return st, nil
}

// LimitError says that an action would take a workspace past a limit of its plan.
type LimitError struct {
	Limit billing.Limit
	Plan  billing.Plan
	// Usage is what the workspace uses of the limit before the action; Want is what the
	// action would bring it to.
	Usage, Want int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the %s plan allows %s %s; the action needs %d", e.Plan.ID, e.Plan.Value(e.Limit), e.Limit, e.Want)
}

// LockPlanLimit serializes, until tx ends, the actions of the workspace that count toward
// limit l, and returns the workspace's standing read under the lock. Two requests that
// each see one free slot therefore cannot both take it: the second counts after the
// first committed. The lock is an advisory one per workspace and limit, so it blocks
// neither the workspace row nor the other limits.
func LockPlanLimit(ctx context.Context, tx pgx.Tx, workspaceID string, l billing.Limit) (Standing, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('plan-limit:' || $1::text || ':' || $2::text, 0))`,
		string(l), workspaceID); err != nil {
		return Standing{}, fmt.Errorf("lock %s limit of %s: %w", l, workspaceID, err)
	}
	st, err := scanStanding(tx.QueryRow(ctx, standingQuery, workspaceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Standing{}, ErrNotFound
	}
	if err != nil {
		return Standing{}, fmt.Errorf("load billing standing of %s: %w", workspaceID, err)
	}
	return st, nil
}

// CreateConnectionWithinPlan is CreateConnection for a workspace whose plan limits are
// enforced: under the workspace's connections lock, it counts the connections that are not
// disconnected and returns a *LimitError instead of inserting one too many.
func (s *Store) CreateConnectionWithinPlan(ctx context.Context, n NewConnection) (Connection, error) {
	var c Connection
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkConnectionSlot(ctx, tx, n.WorkspaceID, n.Channel, n.ExternalAccountID); err != nil {
			return err
		}
		var err error
		c, err = insertConnection(ctx, tx, n)
		return err
	})
	if err != nil {
		return Connection{}, err
	}
	return c, nil
}

// UpsertOAuthConnectionWithinPlan is UpsertOAuthConnection for a workspace whose plan
// limits are enforced. Renewing a connection that is not disconnected is not a new one and
// always goes ahead; creating one, or bringing back a disconnected one, must fit the plan
// (*LimitError otherwise).
func (s *Store) UpsertOAuthConnectionWithinPlan(ctx context.Context, n OAuthConnection) (Connection, bool, error) {
	var id string
	var created bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkConnectionSlot(ctx, tx, n.WorkspaceID, n.Channel, n.ExternalAccountID); err != nil {
			return err
		}
		var err error
		id, created, err = upsertOAuthConnection(ctx, tx, n)
		return err
	})
	if err != nil {
		return Connection{}, false, err
	}
	c, err := s.GetConnection(ctx, n.WorkspaceID, id)
	return c, created, err
}

// checkConnectionSlot takes the workspace's connections lock and checks that the account
// may become a live (not disconnected) connection: it already is one, or the plan has room.
func checkConnectionSlot(ctx context.Context, tx pgx.Tx, workspaceID, channel, accountID string) error {
	st, err := LockPlanLimit(ctx, tx, workspaceID, billing.LimitConnections)
	if err != nil {
		return err
	}
	var live int
	var already bool
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(channel = $2 AND external_account_id = $3), false)
		FROM connections WHERE workspace_id = $1 AND status <> 'disconnected'`, workspaceID, channel, accountID).
		Scan(&live, &already)
	if err != nil {
		return fmt.Errorf("count connections of %s: %w", workspaceID, err)
	}
	if !already && !st.Plan.Allows(billing.LimitConnections, live+1, 0) {
		return &LimitError{Limit: billing.LimitConnections, Plan: st.Plan, Usage: live, Want: live + 1}
	}
	return nil
}

// CheckInviteSeatsTx checks, in the transaction that has just stored an invite, that the
// workspace's members and pending invites (the new one included, the ones it replaced not)
// fit its plan; a *LimitError rolls the invite back.
func CheckInviteSeatsTx(ctx context.Context, tx pgx.Tx, workspaceID string) error {
	st, err := LockPlanLimit(ctx, tx, workspaceID, billing.LimitMembers)
	if err != nil {
		return err
	}
	members, pending, err := countSeats(ctx, tx, workspaceID)
	if err != nil {
		return err
	}
	if seats := members + pending; !st.Plan.Allows(billing.LimitMembers, seats, 0) {
		return &LimitError{Limit: billing.LimitMembers, Plan: st.Plan, Usage: seats - 1, Want: seats}
	}
	return nil
}

// CheckJoinSeatTx checks, in an invite's acceptance before the membership is added, that
// one more member fits the workspace's plan. Pending invites do not count here: the invite
// being accepted is one of them, and it may have been sent under a bigger plan.
func CheckJoinSeatTx(ctx context.Context, tx pgx.Tx, workspaceID string) error {
	st, err := LockPlanLimit(ctx, tx, workspaceID, billing.LimitMembers)
	if err != nil {
		return err
	}
	members, _, err := countSeats(ctx, tx, workspaceID)
	if err != nil {
		return err
	}
	if !st.Plan.Allows(billing.LimitMembers, members+1, 0) {
		return &LimitError{Limit: billing.LimitMembers, Plan: st.Plan, Usage: members, Want: members + 1}
	}
	return nil
}

// countSeats counts the workspace's members and its invites that can still be accepted,
// as GetBillingUsage does.
func countSeats(ctx context.Context, q Querier, workspaceID string) (members, pending int, err error) {
	err = q.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM memberships WHERE workspace_id = $1),
			(SELECT count(*) FROM invites WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now())`,
		workspaceID).Scan(&members, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count members of %s: %w", workspaceID, err)
	}
	return members, pending, nil
}

// LastScheduledSyncStart returns when the connection's latest successful scheduled
// incremental sync (workflow id "<prefix>-...", workflows.ScheduleWorkflowID) started;
// ok is false when none did.
func (s *Store) LastScheduledSyncStart(ctx context.Context, workspaceID, connectionID, prefix string) (at time.Time, ok bool, err error) {
	var started *time.Time
	err = s.Pool.QueryRow(ctx, `SELECT max(started_at) FROM sync_runs
		WHERE workspace_id = $1 AND connection_id = $2 AND kind = 'incremental' AND status = 'succeeded'
		  AND starts_with(workflow_id, $3 || '-')`, workspaceID, connectionID, prefix).Scan(&started)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last scheduled sync of connection %s: %w", connectionID, err)
	}
	if started == nil {
		return time.Time{}, false, nil
	}
	return *started, true, nil
}
