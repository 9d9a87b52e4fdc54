package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestOwnershipStaysSingle(t *testing.T) {
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
	var members []string
	for i := range 8 {
		u, err := store.CreateUser(ctx, st.Pool, fmt.Sprintf("m%d@example.com", i), "M", "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddMember(ctx, st.Pool, w.ID, u.ID, "member"); err != nil {
			t.Fatal(err)
		}
		members = append(members, u.ID)
	}

	// The owner transfers to eight members at once: one transfer wins, the rest find the
	// caller no longer owner.
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = st.TransferOwnership(ctx, w.ID, owner.ID, m) }()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotOwner):
			t.Fatalf("transfer: %v", err)
		}
	}
	var owners int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'`, w.ID).Scan(&owners); err != nil {
		t.Fatal(err)
	}
	if wins != 1 || owners != 1 {
		t.Fatalf("%d transfers won, %d owners", wins, owners)
	}
	if r, _ := st.MembershipRole(ctx, owner.ID, w.ID); r != "admin" {
		t.Fatalf("former owner is %q", r)
	}

	// A transfer to a non-member rolls back: the owner stays owner.
	var newOwner string
	for i, err := range errs {
		if err == nil {
			newOwner = members[i]
		}
	}
	stranger, _ := store.CreateUser(ctx, st.Pool, "stranger@example.com", "S", "x")
	if err := st.TransferOwnership(ctx, w.ID, newOwner, stranger.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("transfer to a stranger: %v", err)
	}
	if r, _ := st.MembershipRole(ctx, newOwner, w.ID); r != "owner" {
		t.Fatalf("owner after a failed transfer is %q", r)
	}
	if _, err := st.SetMemberRole(ctx, w.ID, newOwner, "viewer"); !errors.Is(err, store.ErrOwner) {
		t.Fatalf("demoting the owner: %v", err)
	}
	if _, err := st.RemoveMember(ctx, w.ID, newOwner); !errors.Is(err, store.ErrOwner) {
		t.Fatalf("removing the owner: %v", err)
	}
}

func TestInviteLifecycle(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	admin, _ := store.CreateUser(ctx, st.Pool, "admin@example.com", "A", "x")
	w, err := st.CreateOwnedWorkspace(ctx, admin.ID, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	create := func(email string, hash [32]byte) (store.Invite, []string, error) {
		var inv store.Invite
		var replaced []string
		err := st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			inv, replaced, err = store.CreateInviteTx(ctx, tx, store.NewInvite{WorkspaceID: w.ID, Email: email, Role: "member",
				InvitedBy: admin.ID, TokenHash: hash[:], ExpiresAt: time.Now().Add(time.Hour)})
			return err
		})
		return inv, replaced, err
	}
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	first, replaced, err := create("Bob@Example.com", h1)
	if err != nil || len(replaced) != 0 || first.Email != "bob@example.com" || first.WorkspaceName != "W" {
		t.Fatalf("first invite %+v %v %v", first, replaced, err)
	}
	second, replaced, err := create("bob@example.com", h2)
	if err != nil || len(replaced) != 1 || replaced[0] != first.ID {
		t.Fatalf("second invite replaced %v (%v)", replaced, err)
	}
	if _, _, err := create("admin@example.com", sha256.Sum256([]byte("three"))); !errors.Is(err, store.ErrAlreadyMember) {
		t.Fatalf("inviting a member: %v", err)
	}
	bob, _ := store.CreateUser(ctx, st.Pool, "bob@example.com", "B", "x")
	eve, _ := store.CreateUser(ctx, st.Pool, "eve@example.com", "E", "x")
	if _, err := st.AcceptInvite(ctx, h1[:], store.JoinAs(bob)); !errors.Is(err, store.ErrInviteRevoked) {
		t.Fatalf("accepting the replaced invite: %v", err)
	}
	if _, err := st.AcceptInvite(ctx, h2[:], store.JoinAs(eve)); !errors.Is(err, store.ErrEmailMismatch) {
		t.Fatalf("accepting as another user: %v", err)
	}
	// Concurrent accepts of one token: one joins, the others see it accepted.
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = st.AcceptInvite(ctx, h2[:], store.JoinAs(bob)) }()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrInviteAccepted):
			t.Fatalf("accept: %v", err)
		}
	}
	if r, _ := st.MembershipRole(ctx, bob.ID, w.ID); ok != 1 || r != "member" {
		t.Fatalf("%d accepts succeeded; bob is %q", ok, r)
	}
	if _, _, err := st.RevokeInvite(ctx, w.ID, second.ID); !errors.Is(err, store.ErrInviteAccepted) {
		t.Fatalf("revoking an accepted invite: %v", err)
	}
	pending, err := st.PendingInvites(ctx, w.ID)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending %+v %v", pending, err)
	}
}
