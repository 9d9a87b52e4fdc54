package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestBillingStanding(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	w, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.BillingStanding(ctx, w.ID)
	if err != nil || got.Plan.ID != billing.Free || got.DunningState != billing.DunningNone {
		t.Fatalf("no account: %+v, %v", got, err)
	}
	if err := st.SetPlan(ctx, w.ID, billing.Pro, "past_due"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDunning(ctx, w.ID, billing.DunningRestricted, "dunning-1"); err != nil {
		t.Fatal(err)
	}
	if got, err = st.BillingStanding(ctx, w.ID); err != nil || got.Plan.ID != billing.Pro || got.DunningState != billing.DunningRestricted {
		t.Fatalf("pro, restricted: %+v, %v", got, err)
	}
	for _, id := range []string{"nope", "00000000-0000-4000-8000-000000000001"} {
		if _, err := st.BillingStanding(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BillingStanding(%s) = %v, want ErrNotFound", id, err)
		}
	}
}

// A create that counts while another transaction holds the workspace's connections lock
// waits for it, then counts what that transaction committed: the last slot is taken once.
func TestCreateConnectionWithinPlanWaitsForTheLimitLock(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	w, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	conn := func(account string) store.NewConnection {
		return store.NewConnection{WorkspaceID: w.ID, Channel: "meta", ExternalAccountID: account,
			TokenCiphertext: []byte{1}, Timezone: "UTC", Currency: "USD"}
	}
	if _, err := st.CreateConnectionWithinPlan(ctx, conn("1")); err != nil {
		t.Fatal(err)
	}

	tx, err := st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	standing, err := store.LockPlanLimit(ctx, tx, w.ID, billing.LimitConnections)
	if err != nil || standing.Plan.ID != billing.Free {
		t.Fatalf("lock: %+v, %v", standing, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := st.CreateConnectionWithinPlan(ctx, conn("3"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the create did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The lock holder takes the last free slot and commits.
	if _, err := tx.Exec(ctx, `INSERT INTO connections (workspace_id, channel, external_account_id, token_ciphertext, timezone, currency)
		VALUES ($1, 'meta', '2', '\x01', 'UTC', 'USD')`, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var limit *store.LimitError
	if err := <-done; !errors.As(err, &limit) || limit.Usage != 2 || limit.Want != 3 || limit.Plan.ID != billing.Free ||
		limit.Limit != billing.LimitConnections {
		t.Fatalf("create after the slot was taken: %v", err)
	}

	// Renewing a live connection needs no slot; reviving a disconnected one does.
	if _, _, err := st.UpsertOAuthConnectionWithinPlan(ctx, store.OAuthConnection{WorkspaceID: w.ID, Channel: "meta",
		ExternalAccountID: "1", TokenCiphertext: []byte{2}, Timezone: "UTC", Currency: "USD"}); err != nil {
		t.Fatalf("renew at the limit: %v", err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE connections SET status = 'disconnected' WHERE external_account_id = '1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateConnectionWithinPlan(ctx, conn("4")); err != nil {
		t.Fatalf("create into the freed slot: %v", err)
	}
	_, _, err = st.UpsertOAuthConnectionWithinPlan(ctx, store.OAuthConnection{WorkspaceID: w.ID, Channel: "meta",
		ExternalAccountID: "1", TokenCiphertext: []byte{3}, Timezone: "UTC", Currency: "USD"})
	if !errors.As(err, &limit) {
		t.Fatalf("revive over the limit: %v", err)
	}
	var status string
	if err := st.Pool.QueryRow(ctx, `SELECT status FROM connections WHERE external_account_id = '1'`).Scan(&status); err != nil || status != "disconnected" {
		t.Fatalf("refused revive left status %q (%v)", status, err)
	}
}

// Seats: invites count with members; accepting counts members only.
func TestSeatChecks(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	owner, err := store.CreateUser(ctx, st.Pool, "owner@example.com", "O", "x")
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.CreateOwnedWorkspace(ctx, owner.ID, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	invite := func(email string) error {
		n++
		return st.InTx(ctx, func(tx pgx.Tx) error {
			if _, _, err := store.CreateInviteTx(ctx, tx, store.NewInvite{WorkspaceID: w.ID, Email: email, Role: "member",
				TokenHash: []byte(fmt.Sprint(n)), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			return store.CheckInviteSeatsTx(ctx, tx, w.ID)
		})
	}
	// Free: 2 seats. The owner and one invite fill them.
	if err := invite("a@example.com"); err != nil {
		t.Fatal(err)
	}
	var limit *store.LimitError
	if err := invite("b@example.com"); !errors.As(err, &limit) || limit.Usage != 2 || limit.Want != 3 {
		t.Fatalf("third seat: %v", err)
	}
	// Re-inviting the same email replaces the pending invite: no extra seat.
	if err := invite("a@example.com"); err != nil {
		t.Fatalf("re-invite: %v", err)
	}
	var pending int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM invites WHERE revoked_at IS NULL`).Scan(&pending); err != nil || pending != 1 {
		t.Fatalf("%d pending invites (%v); a refused invite must roll back", pending, err)
	}
	// Accepting needs one member seat, whatever is pending.
	err = st.InTx(ctx, func(tx pgx.Tx) error { return store.CheckJoinSeatTx(ctx, tx, w.ID) })
	if err != nil {
		t.Fatalf("join into the second seat: %v", err)
	}
	u, err := store.CreateUser(ctx, st.Pool, "m@example.com", "M", "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AddMember(ctx, st.Pool, w.ID, u.ID, "member"); err != nil {
		t.Fatal(err)
	}
	err = st.InTx(ctx, func(tx pgx.Tx) error { return store.CheckJoinSeatTx(ctx, tx, w.ID) })
	if !errors.As(err, &limit) || limit.Limit != billing.LimitMembers || limit.Usage != 2 {
		t.Fatalf("third member: %v", err)
	}
}

func TestLastScheduledSyncStart(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	w, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: w.ID, Channel: "meta", ExternalAccountID: "1",
		TokenCiphertext: []byte{1}, Timezone: "UTC", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "scheduled-sync-" + c.ID
	if _, ok, err := st.LastScheduledSyncStart(ctx, w.ID, c.ID, prefix); ok || err != nil {
		t.Fatalf("no runs: ok=%v err=%v", ok, err)
	}
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		wf, kind, status string
		at               time.Time
	}{
		{prefix + "-a", "incremental", "succeeded", base},
		{prefix + "-b", "incremental", "failed", base.Add(time.Hour)},
		{prefix + "-c", "incremental", "running", base.Add(2 * time.Hour)},
		{"sync-" + c.ID, "incremental", "succeeded", base.Add(3 * time.Hour)},
		{prefix + "-d", "backfill", "succeeded", base.Add(4 * time.Hour)},
		{prefix + "x-e", "incremental", "succeeded", base.Add(5 * time.Hour)},
	} {
		if _, err := st.Pool.Exec(ctx, `INSERT INTO sync_runs (workspace_id, connection_id, channel, kind, workflow_id, run_id,
			window_from, window_to, status, started_at) VALUES ($1, $2, 'meta', $3, $4, 'r', current_date, current_date, $5, $6)`,
			w.ID, c.ID, r.kind, r.wf, r.status, r.at); err != nil {
			t.Fatal(err)
		}
	}
	at, ok, err := st.LastScheduledSyncStart(ctx, w.ID, c.ID, prefix)
	if err != nil || !ok || !at.Equal(base) {
		t.Fatalf("last scheduled sync %v ok=%v err=%v, want %v", at, ok, err, base)
	}
}
