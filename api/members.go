package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// MemberInfo is a member of the workspace.
type MemberInfo struct {
	UserID   string    `json:"user_id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// MemberList is the body of GET /v1/members.
type MemberList struct {
	Members []MemberInfo `json:"members"`
}

// UpdateMemberRequest is the body of PATCH /v1/members/{user_id}.
type UpdateMemberRequest struct {
	Role string `json:"role"`
}

// TransferOwnershipRequest is the body of POST /v1/workspace/transfer-ownership.
type TransferOwnershipRequest struct {
	UserID string `json:"user_id"`
}

// TransferOwnershipResult is the answer to a transfer: who owns the workspace now.
type TransferOwnershipResult struct {
	OwnerUserID         string `json:"owner_user_id"`
	PreviousOwnerUserID string `json:"previous_owner_user_id"`
	PreviousOwnerRole   string `json:"previous_owner_role"`
}

// InviteInfo is a pending invite; its token is never shown after it is mailed.
type InviteInfo struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy *string   `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// InviteList is the body of GET /v1/invites.
type InviteList struct {
	Invites []InviteInfo `json:"invites"`
}

// CreateInviteRequest is the body of POST /v1/invites.
type CreateInviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// InviteLookup is what the accept page shows about an invite token.
type InviteLookup struct {
	WorkspaceName string    `json:"workspace_name"`
	Email         string    `json:"email"`
	Role          string    `json:"role"`
	ExpiresAt     time.Time `json:"expires_at"`
	// ExistingUser says whether the email has an account: the page then asks to sign in
	// and accept (accept-as-me) instead of choosing a password.
	ExistingUser bool `json:"existing_user"`
}

// AcceptInviteRequest is the body of POST /v1/invites/accept (a new user).
type AcceptInviteRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// AcceptInviteAsMeRequest is the body of POST /v1/invites/accept-as-me.
type AcceptInviteAsMeRequest struct {
	Token string `json:"token"`
}

// InvitedUser is the account an invite created.
type InvitedUser struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// AcceptedInvite is the answer to accepting an invite.
type AcceptedInvite struct {
	// User is set when the invite created the account.
	User        *InvitedUser `json:"user,omitempty"`
	WorkspaceID string       `json:"workspace_id"`
	Role        string       `json:"role"`
}

// InviteTTL is how long an invite can be accepted.
const InviteTTL = 7 * 24 * time.Hour

// typeInviteGone is the problem type of an invite that was accepted, revoked or expired.
const typeInviteGone = "/problems/invite-unusable"

// invitableRoles are the roles an invite or a role change may give: owner only comes by
// transfer.
var invitableRoles = []auth.Role{auth.Admin, auth.Member, auth.Viewer}

func parseInvitableRole(field, s string, errs *[]FieldError) auth.Role {
	if s == "" {
		*errs = append(*errs, FieldError{field, "is required: admin, member or viewer"})
		return ""
	}
	for _, r := range invitableRoles {
		if string(r) == s {
			return r
		}
	}
	msg := "must be admin, member or viewer"
	if s == string(auth.Owner) {
		msg += "; make someone the owner with POST /v1/workspace/transfer-ownership"
	}
	*errs = append(*errs, FieldError{field, msg})
	return ""
}

// emailField validates the email of a request field, collecting the problem in errs.
func emailField(field, raw string, errs *[]FieldError) string {
	email, msg := checkEmail(raw)
	if msg != "" {
		*errs = append(*errs, FieldError{field, msg})
	}
	return email
}

func memberDTO(m store.Member) MemberInfo {
	return MemberInfo{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, JoinedAt: m.JoinedAt}
}

func (s *server) listMembers(c *gin.Context) {
	ms, err := s.Store.ListMembers(c.Request.Context(), principal(c).WorkspaceID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := MemberList{Members: make([]MemberInfo, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, memberDTO(m))
	}
	c.JSON(http.StatusOK, out)
}

// updateMember changes a member's role. The matrix lets admins manage members; the rules it
// cannot express are checked here: nobody changes their own role or the owner's.
func (s *server) updateMember(c *gin.Context) {
	var req UpdateMemberRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	role := parseInvitableRole("role", req.Role, &errs)
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	p, target := principal(c), c.Param("user_id")
	if target == p.UserID {
		forbidden(c, "you cannot change your own role; another admin or the owner can")
		return
	}
	before, err := s.Store.SetMemberRole(c.Request.Context(), p.WorkspaceID, target, string(role))
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "member "+target)
		return
	case errors.Is(err, store.ErrOwner):
		forbidden(c, "the owner's role changes only by transferring ownership (POST /v1/workspace/transfer-ownership)")
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	if before.Role != string(role) {
		s.audit(c, "member.role_changed", "user", target, map[string]any{"email": before.Email, "from": before.Role, "to": string(role)})
	}
	after := before
	after.Role = string(role)
	c.JSON(http.StatusOK, memberDTO(after))
}

// removeMember ends a membership: an admin removing a member, or anyone removing
// themselves. The owner cannot be removed (transfer ownership first).
func (s *server) removeMember(c *gin.Context) {
	s.removeMembership(c, c.Param("user_id"))
}

// leaveWorkspace ends the caller's own membership. It is Scoped with ReadData so that every
// role reaches it, and UsersOnly: an API key belongs to no one and cannot leave.
func (s *server) leaveWorkspace(c *gin.Context) {
	s.removeMembership(c, principal(c).UserID)
}

func (s *server) removeMembership(c *gin.Context, target string) {
	p := principal(c)
	m, err := s.Store.RemoveMember(c.Request.Context(), p.WorkspaceID, target)
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "member "+target)
		return
	case errors.Is(err, store.ErrOwner):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "the owner cannot be removed or leave; transfer ownership first (POST /v1/workspace/transfer-ownership)"})
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	s.audit(c, "member.removed", "user", m.UserID, map[string]any{"email": m.Email, "role": m.Role, "left": m.UserID == p.UserID})
	c.Status(http.StatusNoContent)
}

func (s *server) transferOwnership(c *gin.Context) {
	var req TransferOwnershipRequest
	if !decodeJSON(c, &req) {
		return
	}
	p := principal(c)
	target := strings.TrimSpace(req.UserID)
	switch {
	case target == "":
		validationProblem(c, []FieldError{{"user_id", "is required"}})
		return
	case target == p.UserID:
		validationProblem(c, []FieldError{{"user_id", "is you: name the member who should become the owner"}})
		return
	}
	err := s.Store.TransferOwnership(c.Request.Context(), p.WorkspaceID, p.UserID, target)
	switch {
	case errors.Is(err, store.ErrNotFound):
		validationProblem(c, []FieldError{{"user_id", "is not a member of this workspace"}})
		return
	case errors.Is(err, store.ErrNotOwner):
		// Another transfer committed between the role check and this one.
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "you are no longer the owner of this workspace"})
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	s.audit(c, "ownership.transferred", "user", target, map[string]any{"from": p.UserID, "to": target})
	c.JSON(http.StatusOK, TransferOwnershipResult{OwnerUserID: target, PreviousOwnerUserID: p.UserID, PreviousOwnerRole: string(auth.Admin)})
}

func inviteDTO(i store.Invite) InviteInfo {
	return InviteInfo{ID: i.ID, Email: i.Email, Role: i.Role, InvitedBy: optional(i.InvitedBy), CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt}
}

func (s *server) listInvites(c *gin.Context) {
	invs, err := s.Store.PendingInvites(c.Request.Context(), principal(c).WorkspaceID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := InviteList{Invites: make([]InviteInfo, 0, len(invs))}
	for _, i := range invs {
		out.Invites = append(out.Invites, inviteDTO(i))
	}
	c.JSON(http.StatusOK, out)
}

// errMailFailed marks a failure to send the invite mail, which rolls the invite back.
var errMailFailed = errors.New("send invite mail")

// createInvite stores an invite and mails its token. The mail is sent inside the
// transaction: if it fails, no invite exists that nobody received, and a replaced invite
// stays valid.
func (s *server) createInvite(c *gin.Context) {
	var req CreateInviteRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	email := emailField("email", req.Email, &errs)
	role := parseInvitableRole("role", req.Role, &errs)
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if s.Mailer == nil {
		s.unavailable(c, "email", errors.New("no mailer configured"))
		return
	}
	ctx, p := c.Request.Context(), principal(c)
	inviter, err := s.Store.GetUser(ctx, p.UserID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	secret, hash, err := auth.NewOpaque(auth.InvitePrefix)
	if err != nil {
		s.internal(c, "generate invite token", err)
		return
	}
	var inv store.Invite
	var replaced []string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, replaced, err = store.CreateInviteTx(ctx, tx, store.NewInvite{
			WorkspaceID: p.WorkspaceID, Email: email, Role: string(role), InvitedBy: p.UserID,
			TokenHash: hash, ExpiresAt: time.Now().Add(InviteTTL),
		})
		if err != nil {
			return err
		}
		// Counted with the new invite in place (and the ones it replaced revoked), before
		// any mail goes out; over the plan, the invite rolls back.
		if s.enforcing() {
			if err := store.CheckInviteSeatsTx(ctx, tx, p.WorkspaceID); err != nil {
				return err
			}
		}
		if err := s.Mailer.Send(ctx, s.inviteMail(inviter, inv, secret)); err != nil {
			return fmt.Errorf("%w: %w", errMailFailed, err)
		}
		return nil
	})
	var limit *store.LimitError
	switch {
	case errors.Is(err, store.ErrAlreadyMember):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: email + " is already a member of this workspace"})
		return
	case errors.As(err, &limit):
		s.limitError(c, limit, checkoutHint)
		return
	case errors.Is(err, errMailFailed):
		s.unavailable(c, "sending email", err)
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	for _, id := range replaced {
		s.audit(c, "invite.revoked", "invite", id, map[string]any{"email": email, "replaced_by": inv.ID})
	}
	s.audit(c, "invite.created", "invite", inv.ID, map[string]any{"email": inv.Email, "role": inv.Role})
	c.JSON(http.StatusCreated, inviteDTO(inv))
}

// inviteMail is the invitation: a link to the app's accept page, and the token itself for
// clients of the API.
func (s *server) inviteMail(inviter store.User, inv store.Invite, secret string) notify.Message {
	who := inviter.Name
	if who == "" {
		who = inviter.Email
	}
	base := s.Identity.AppURL
	if base == "" {
		base = s.Identity.PublicURL
	}
	link := strings.TrimRight(base, "/") + "/invites/accept?token=" + url.QueryEscape(secret)
	return notify.Message{
		To:      []string{inv.Email},
		Subject: fmt.Sprintf("%s invited you to %s on OmniTrackIQ", who, inv.WorkspaceName),
		Text: fmt.Sprintf(`%s (%s) invited you to join the workspace "%s" on OmniTrackIQ as %s.

Accept the invitation:
%s

The link works once and expires on %s.
If you use the API, accept with POST /v1/invites/accept (a new account) or
POST /v1/invites/accept-as-me (signed in) and this token:

%s

If you did not expect this invitation, ignore this email.
`, who, inviter.Email, inv.WorkspaceName, inv.Role, link, inv.ExpiresAt.UTC().Format("2 Jan 2006 15:04 MST"), secret),
	}
}

func (s *server) revokeInvite(c *gin.Context) {
	id := c.Param("id")
	inv, revoked, err := s.Store.RevokeInvite(c.Request.Context(), principal(c).WorkspaceID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "invite "+id)
		return
	case errors.Is(err, store.ErrInviteAccepted):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "the invite was already accepted; remove the member instead"})
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	if revoked {
		s.audit(c, "invite.revoked", "invite", inv.ID, map[string]any{"email": inv.Email})
	}
	c.Status(http.StatusNoContent)
}

// inviteByToken finds the invite of a token, or writes the problem and returns false: 422
// without a token, 404 for an unknown one. Garbage is refused without a lookup.
func (s *server) inviteByToken(c *gin.Context, token string) (store.Invite, bool) {
	if token == "" {
		validationProblem(c, []FieldError{{"token", "is required"}})
		return store.Invite{}, false
	}
	if !auth.OpaqueWellFormed(auth.InvitePrefix, token) {
		notFound(c, "invite")
		return store.Invite{}, false
	}
	inv, err := s.Store.InviteByTokenHash(c.Request.Context(), auth.HashOpaque(token))
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "invite")
		return store.Invite{}, false
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return store.Invite{}, false
	}
	return inv, true
}

// inviteProblem answers the errors of accepting an invite; false if err is not one of them.
func (s *server) inviteProblem(c *gin.Context, err error) bool {
	gone := func(detail string) {
		writeProblem(c, Problem{Type: typeInviteGone, Title: "Invite no longer valid", Status: http.StatusGone, Detail: detail})
	}
	var limit *store.LimitError
	switch {
	case errors.As(err, &limit):
		// The invitee cannot upgrade the workspace; its owner can.
		s.limitError(c, limit, "ask the workspace's owner to upgrade, then accept again")
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "invite")
	case errors.Is(err, store.ErrInviteAccepted):
		gone("the invite was already accepted; sign in to reach the workspace")
	case errors.Is(err, store.ErrInviteRevoked):
		gone("the invite was revoked; ask for a new one")
	case errors.Is(err, store.ErrInviteExpired):
		gone("the invite has expired; ask for a new one")
	case errors.Is(err, store.ErrAlreadyMember):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "you are already a member of this workspace"})
	case errors.Is(err, store.ErrEmailMismatch):
		forbidden(c, "the invite was sent to another email address; sign in as that address to accept it")
	case errors.Is(err, store.ErrConflict):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "an account with this email already exists: sign in, then accept with POST /v1/invites/accept-as-me"})
	default:
		return false
	}
	return true
}

func (s *server) lookupInvite(c *gin.Context) {
	inv, ok := s.inviteByToken(c, c.Query("token"))
	if !ok {
		return
	}
	if err := inv.Usable(time.Now()); err != nil {
		s.inviteProblem(c, err)
		return
	}
	_, err := s.Store.UserByEmail(c.Request.Context(), inv.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, InviteLookup{WorkspaceName: inv.WorkspaceName, Email: inv.Email, Role: inv.Role,
		ExpiresAt: inv.ExpiresAt, ExistingUser: err == nil})
}

// acceptInvite creates the invited user and their membership in one transaction. The
// client then signs in with the password it chose.
func (s *server) acceptInvite(c *gin.Context) {
	var req AcceptInviteRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	if req.Token == "" {
		errs = append(errs, FieldError{"token", "is required"})
	}
	name := nameField("name", req.Name, &errs)
	if err := auth.ValidatePassword(req.Password); err != nil {
		errs = append(errs, FieldError{"password", err.Error()})
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	// Cheap looks first, so a dead token or a taken email costs no bcrypt hash; the
	// transaction checks both again.
	pre, ok := s.inviteByToken(c, req.Token)
	if !ok {
		return
	}
	if err := pre.Usable(time.Now()); err != nil {
		s.inviteProblem(c, err)
		return
	}
	ctx := c.Request.Context()
	switch _, err := s.Store.UserByEmail(ctx, pre.Email); {
	case err == nil:
		s.inviteProblem(c, store.ErrConflict)
		return
	case !errors.Is(err, store.ErrNotFound):
		s.unavailable(c, "the database", err)
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		s.internal(c, "hash password", err)
		return
	}
	var user store.User
	inv, err := s.Store.AcceptInvite(ctx, auth.HashOpaque(req.Token), s.withinSeats(ctx, func(tx pgx.Tx, inv store.Invite) (string, error) {
		var err error
		user, err = store.CreateUser(ctx, tx, inv.Email, name, hash)
		return user.ID, err
	}))
	if err != nil {
		if !s.inviteProblem(c, err) {
			s.unavailable(c, "the database", err)
		}
		return
	}
	s.auditAccepted(c, inv, user)
	c.JSON(http.StatusCreated, AcceptedInvite{
		User:        &InvitedUser{ID: user.ID, Email: user.Email, Name: user.Name, CreatedAt: user.CreatedAt},
		WorkspaceID: inv.WorkspaceID, Role: inv.Role,
	})
}

// acceptInviteAsMe adds the signed-in user to the invite's workspace, if the invite was sent
// to their email.
func (s *server) acceptInviteAsMe(c *gin.Context) {
	var req AcceptInviteAsMeRequest
	if !decodeJSON(c, &req) {
		return
	}
	if _, ok := s.inviteByToken(c, req.Token); !ok {
		return
	}
	ctx := c.Request.Context()
	user, err := s.Store.GetUser(ctx, principal(c).UserID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	inv, err := s.Store.AcceptInvite(ctx, auth.HashOpaque(req.Token), s.withinSeats(ctx, store.JoinAs(user)))
	if err != nil {
		if !s.inviteProblem(c, err) {
			s.unavailable(c, "the database", err)
		}
		return
	}
	s.auditAccepted(c, inv, user)
	c.JSON(http.StatusOK, AcceptedInvite{WorkspaceID: inv.WorkspaceID, Role: inv.Role})
}

// withinSeats makes an invite's join check, in the accepting transaction, that one more
// member fits the workspace's plan (a *store.LimitError otherwise): the invite may have
// been sent under a bigger plan.
func (s *server) withinSeats(ctx context.Context, join func(pgx.Tx, store.Invite) (string, error)) func(pgx.Tx, store.Invite) (string, error) {
	if !s.enforcing() {
		return join
	}
	return func(tx pgx.Tx, inv store.Invite) (string, error) {
		// join first, so that its refusals (another email) answer before the plan's.
		userID, err := join(tx, inv)
		if err != nil {
			return "", err
		}
		if err := store.CheckJoinSeatTx(ctx, tx, inv.WorkspaceID); err != nil {
			return "", err
		}
		return userID, nil
	}
}

func (s *server) auditAccepted(c *gin.Context, inv store.Invite, u store.User) {
	s.appendAudit(c, store.AuditEntry{
		WorkspaceID: inv.WorkspaceID, ActorUserID: u.ID, Actor: u.ID,
		Action: "invite.accepted", TargetType: "invite", TargetID: inv.ID,
		Details: map[string]any{"email": inv.Email, "role": inv.Role, "user_id": u.ID},
	})
}
