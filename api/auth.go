package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// RefreshTTL is the absolute lifetime of a session (a refresh-token family). Rotation hands
// out new tokens but never extends it: thirty days after sign-in the user signs in again.
const RefreshTTL = 30 * 24 * time.Hour

// ResetTTL is how long an emailed password-reset link works.
const ResetTTL = time.Hour

// ResetSubject is the subject of the password-reset email.
const ResetSubject = "Reset your OmniTrackIQ password"

// typeResetToken is the problem of a reset link that is unknown, used or expired.
const typeResetToken = "/problems/invalid-reset-token"

// Field limits of people's names and workspace names.
const (
	maxNameLen  = 100
	maxEmailLen = 254
)

// loginFailed is the one answer to every failed sign-in, so it tells nothing about which
// part was wrong or whether the account exists.
const loginFailed = "the email or password is not correct"

// AccountUser is a user as the API shows them.
type AccountUser struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// AccountWorkspace is the workspace a sign-up created.
type AccountWorkspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Currency  string    `json:"currency"`
	Timezone  string    `json:"timezone"`
	CreatedAt time.Time `json:"created_at"`
}

// AccountMembership is one workspace the user belongs to and their role in it.
type AccountMembership struct {
	WorkspaceID   string `json:"workspace_id"`
	WorkspaceName string `json:"workspace_name"`
	Role          string `json:"role"`
}

// SessionTokens are what sign-in, refresh and password changes hand out. The access token
// goes in "Authorization: Bearer"; the refresh token is spent on POST /v1/auth/refresh.
type SessionTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	// RefreshExpiresAt is the session's absolute end; rotation keeps it.
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// AuthResponse answers sign-up and sign-in.
type AuthResponse struct {
	User AccountUser `json:"user"`
	// Workspace is the workspace a sign-up created (sign-up only).
	Workspace   *AccountWorkspace   `json:"workspace,omitempty"`
	Memberships []AccountMembership `json:"memberships"`
	SessionTokens
}

// MeResponse answers GET and PATCH /v1/me.
type MeResponse struct {
	User        AccountUser         `json:"user"`
	Memberships []AccountMembership `json:"memberships"`
}

func accountUser(u store.User) AccountUser {
	return AccountUser{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt}
}

func accountMemberships(ms []store.UserMembership) []AccountMembership {
	out := make([]AccountMembership, 0, len(ms))
	for _, m := range ms {
		out = append(out, AccountMembership{WorkspaceID: m.WorkspaceID, WorkspaceName: m.WorkspaceName, Role: m.Role})
	}
	return out
}

// registerAuth adds the users-and-sessions routes.
func (s *server) registerAuth(v1 *gin.RouterGroup) {
	public, signed := Policy{Access: Public}, Policy{Access: Signed}
	s.handle(v1, "POST", "/auth/signup", public, s.signup)
	s.handle(v1, "POST", "/auth/login", public, s.login)
	s.handle(v1, "POST", "/auth/refresh", public, s.refresh)
	s.handle(v1, "POST", "/auth/logout", signed, s.logout)
	s.handle(v1, "POST", "/auth/password-reset", public, s.requestPasswordReset)
	s.handle(v1, "POST", "/auth/password-reset/confirm", public, s.confirmPasswordReset)
	s.handle(v1, "GET", "/me", signed, s.getMe)
	s.handle(v1, "PATCH", "/me", signed, s.patchMe)
	s.handle(v1, "POST", "/me/password", signed, s.changePassword)
}

// sessionsEnabled answers 503 when the API was started without a JWT key.
func (s *server) sessionsEnabled(c *gin.Context) bool {
	if s.Tokens == nil {
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "user accounts are not configured on this server (JWT_SECRET)"})
		return false
	}
	return true
}

// signedUser is the signed-in user of a Signed route; API keys act for programs, not
// people, and are refused.
func signedUser(c *gin.Context) (Principal, bool) {
	p := principal(c)
	if p.UserID == "" {
		forbidden(c, "this route is for signed-in users; API keys cannot use it")
		return p, false
	}
	return p, true
}

// limits are the configured rate limits with defaults filled in.
func (s *server) limits() config.RateLimits { return s.Identity.Limits.WithDefaults() }

// rateLimited counts a hit against bucket (or only reads the count when hit is false) and
// answers 429 with Retry-After once the limit is reached. It reports whether it answered.
func (s *server) rateLimited(c *gin.Context, bucket string, l config.Limit, hit bool) bool {
	var rc store.RateCount
	var err error
	if hit {
		rc, err = s.Store.RateHit(c.Request.Context(), bucket, l.Window)
	} else {
		rc, err = s.Store.RatePeek(c.Request.Context(), bucket, l.Window)
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return true
	}
	// A hit is refused once it passes the limit; a peek once the limit is used up.
	over := rc.Hits > l.Max || (!hit && rc.Hits >= l.Max)
	if !over {
		return false
	}
	retry := int(math.Ceil(rc.ResetIn.Seconds()))
	if retry < 1 {
		retry = 1
	}
	c.Header("Retry-After", strconv.Itoa(retry))
	writeProblem(c, Problem{Type: typeRateLimited, Title: "Too many requests", Status: http.StatusTooManyRequests,
		Detail: fmt.Sprintf("too many attempts; retry in %d seconds", retry)})
	return true
}

// auditPublic records an action of a caller who is not (yet) authenticated, such as a
// sign-in. Details must never hold a secret.
func (s *server) auditPublic(c *gin.Context, e store.AuditEntry) {
	e.IP = clientIP(c)
	if err := store.AppendAudit(c.Request.Context(), s.Store.Pool, e); err != nil {
		s.log.ErrorContext(c.Request.Context(), "audit log write failed", "action", e.Action, "err", err)
	}
}

// issueSession starts a session for the user in q (a transaction when the caller writes
// more) and returns its tokens.
func (s *server) issueSession(ctx context.Context, q store.Querier, userID string) (SessionTokens, error) {
	refresh, hash, err := auth.NewOpaque(auth.RefreshPrefix)
	if err != nil {
		return SessionTokens{}, err
	}
	sess, err := store.StartSession(ctx, q, userID, hash, time.Now().Add(RefreshTTL).Truncate(time.Second))
	if err != nil {
		return SessionTokens{}, err
	}
	return s.tokensFor(userID, sess, refresh)
}

func (s *server) tokensFor(userID string, sess store.Session, refresh string) (SessionTokens, error) {
	access, _, err := s.Tokens.Issue(userID, sess.FamilyID)
	if err != nil {
		return SessionTokens{}, err
	}
	return SessionTokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(auth.AccessTTL / time.Second),
		RefreshToken: refresh, RefreshExpiresAt: sess.ExpiresAt.UTC()}, nil
}

// checkEmail returns the stored form of an email address, or why it is not one.
func checkEmail(raw string) (string, string) {
	email := store.NormalizeEmail(raw)
	switch {
	case email == "":
		return "", "is required"
	case len(email) > maxEmailLen:
		return "", fmt.Sprintf("must be at most %d characters", maxEmailLen)
	}
	addr, err := mail.ParseAddress(email)
	// A display name ("Ann <ann@example.com>") or comments parse too; only a bare address
	// is an email here.
	// A domain without a dot (bob@localhost) cannot receive mail from outside.
	if err != nil || addr.Name != "" || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return "", "is not an email address such as ann@example.com"
	}
	return email, ""
}

// checkName validates a person's or workspace's name, returning it trimmed.
func checkName(raw string, required bool) (string, string) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "" && required:
		return "", "is required"
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", fmt.Sprintf("must be at most %d characters", maxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", "must not contain control characters"
	}
	return name, ""
}

type signupRequest struct {
	Email         string `json:"email"`
	Password      string `json:"password"`
	Name          string `json:"name"`
	WorkspaceName string `json:"workspace_name"`
	Currency      string `json:"currency"`
	Timezone      string `json:"timezone"`
}

func (s *server) signup(c *gin.Context) {
	if s.Identity.Signup == config.SignupInviteOnly {
		forbidden(c, "sign-up is closed on this server; ask a workspace admin for an invite")
		return
	}
	if !s.sessionsEnabled(c) || s.rateLimited(c, "signup:ip:"+clientIP(c), s.limits().SignupPerIP, true) {
		return
	}
	var req signupRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	email, msg := checkEmail(req.Email)
	if msg != "" {
		bad("email", msg)
	}
	if err := auth.ValidatePassword(req.Password); err != nil {
		bad("password", err.Error())
	}
	name, msg := checkName(req.Name, true)
	if msg != "" {
		bad("name", msg)
	}
	wsName, msg := checkName(req.WorkspaceName, true)
	if msg != "" {
		bad("workspace_name", msg)
	}
	currency := strings.ToUpper(strings.TrimSpace(req.Currency))
	if currency == "" {
		currency = "USD"
	}
	if !money.IsCurrencyCode(currency) {
		bad("currency", "must be a 3-letter ISO 4217 code such as USD")
	}
	tz := strings.TrimSpace(req.Timezone)
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		bad("timezone", "must be an IANA time zone such as Europe/Paris")
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		s.internal(c, "hash password", err)
		return
	}
	ctx := c.Request.Context()
	u, w, err := s.Store.CreateAccount(ctx, store.NewAccount{Email: email, Name: name, PasswordHash: hash,
		Workspace: wsName, Currency: currency, Timezone: tz})
	if errors.Is(err, store.ErrConflict) {
		writeProblem(c, Problem{Type: typeConflict, Title: "Email already registered", Status: http.StatusConflict,
			Detail: "an account with this email already exists; sign in or reset the password"})
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	tokens, err := s.issueSession(ctx, s.Store.Pool, u.ID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.auditPublic(c, store.AuditEntry{WorkspaceID: w.ID, ActorUserID: u.ID, Actor: u.Email, Action: "auth.signup",
		TargetType: "workspace", TargetID: w.ID})
	c.JSON(http.StatusCreated, AuthResponse{
		User:          accountUser(u),
		Workspace:     &AccountWorkspace{ID: w.ID, Name: w.Name, Currency: w.Currency, Timezone: w.Timezone, CreatedAt: w.CreatedAt},
		Memberships:   []AccountMembership{{WorkspaceID: w.ID, WorkspaceName: w.Name, Role: string(auth.Owner)}},
		SessionTokens: tokens,
	})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *server) login(c *gin.Context) {
	lim := s.limits()
	if !s.sessionsEnabled(c) || s.rateLimited(c, "login:ip:"+clientIP(c), lim.LoginPerIP, true) {
		return
	}
	var req loginRequest
	if !decodeJSON(c, &req) {
		return
	}
	email := store.NormalizeEmail(req.Email)
	var errs []FieldError
	if email == "" {
		errs = append(errs, FieldError{Field: "email", Message: "is required"})
	}
	if req.Password == "" {
		errs = append(errs, FieldError{Field: "password", Message: "is required"})
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	// Failures per email lock that email out until the window ends, whoever tries; counting
	// only failures keeps a user who signs in often from locking themselves out.
	emailBucket := "login:email:" + email
	if s.rateLimited(c, emailBucket, lim.LoginFailuresPerEmail, false) {
		return
	}
	ctx := c.Request.Context()
	u, err := s.Store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// As slow as a wrong password, so timing does not tell which emails have accounts.
		auth.BurnPasswordCheck(req.Password)
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	default:
		err = auth.CheckPassword(u.PasswordHash, req.Password)
		if err != nil && !errors.Is(err, auth.ErrWrongPassword) {
			s.internal(c, "check password", err)
			return
		}
	}
	if err != nil {
		if _, herr := s.Store.RateHit(ctx, emailBucket, lim.LoginFailuresPerEmail.Window); herr != nil {
			s.unavailable(c, "the database", herr)
			return
		}
		s.auditPublic(c, store.AuditEntry{ActorUserID: u.ID, Actor: email, Action: "auth.login_failed",
			TargetType: "user", TargetID: u.ID})
		unauthorized(c, loginFailed)
		return
	}
	tokens, err := s.issueSession(ctx, s.Store.Pool, u.ID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.auditPublic(c, store.AuditEntry{ActorUserID: u.ID, Actor: email, Action: "auth.login", TargetType: "user", TargetID: u.ID})
	c.JSON(http.StatusOK, AuthResponse{User: accountUser(u), Memberships: accountMemberships(ms), SessionTokens: tokens})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *server) refresh(c *gin.Context) {
	if !s.sessionsEnabled(c) {
		return
	}
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.RefreshToken == "" {
		validationProblem(c, []FieldError{{Field: "refresh_token", Message: "is required"}})
		return
	}
	if !auth.OpaqueWellFormed(auth.RefreshPrefix, req.RefreshToken) {
		unauthorized(c, "the refresh token is not valid; sign in again")
		return
	}
	next, hash, err := auth.NewOpaque(auth.RefreshPrefix)
	if err != nil {
		s.internal(c, "generate refresh token", err)
		return
	}
	ctx := c.Request.Context()
	sess, err := s.Store.RotateRefresh(ctx, auth.HashOpaque(req.RefreshToken), hash)
	switch {
	case errors.Is(err, store.ErrRefreshReused):
		// Someone holds a copy of a token that was already exchanged: either the user or
		// a thief has the live one, and we cannot tell which, so the session ends for both.
		s.log.WarnContext(ctx, "refresh token reused; session revoked", "user_id", sess.UserID, "session", sess.FamilyID)
		s.auditPublic(c, store.AuditEntry{ActorUserID: sess.UserID, Actor: sess.UserID, Action: "auth.refresh_reused",
			TargetType: "session", TargetID: sess.FamilyID})
		unauthorized(c, "the refresh token was already used; the session has been ended, sign in again")
		return
	case errors.Is(err, store.ErrRefreshRevoked):
		unauthorized(c, "the session has ended; sign in again")
		return
	case errors.Is(err, store.ErrRefreshExpired):
		unauthorized(c, "the session has expired; sign in again")
		return
	case errors.Is(err, store.ErrNotFound):
		unauthorized(c, "the refresh token is not valid; sign in again")
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	tokens, err := s.tokensFor(sess.UserID, sess, next)
	if err != nil {
		s.internal(c, "issue access token", err)
		return
	}
	c.JSON(http.StatusOK, tokens)
}

func (s *server) logout(c *gin.Context) {
	p, ok := signedUser(c)
	if !ok {
		return
	}
	var req refreshRequest
	// The body is optional: without one, the caller's own session ends.
	if c.Request.Body != nil && c.Request.Body != http.NoBody && c.Request.ContentLength != 0 {
		if !decodeJSON(c, &req) {
			return
		}
		if req.RefreshToken != "" && !auth.OpaqueWellFormed(auth.RefreshPrefix, req.RefreshToken) {
			validationProblem(c, []FieldError{{Field: "refresh_token", Message: "is not a refresh token"}})
			return
		}
	}
	ctx := c.Request.Context()
	if err := s.Store.RevokeSession(ctx, p.UserID, p.Session); err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	if req.RefreshToken != "" {
		if err := s.Store.RevokeSessionByToken(ctx, p.UserID, auth.HashOpaque(req.RefreshToken)); err != nil {
			s.unavailable(c, "the database", err)
			return
		}
	}
	s.audit(c, "auth.logout", "session", p.Session, nil)
	c.Status(http.StatusNoContent)
}

func (s *server) me(c *gin.Context, u store.User) {
	ms, err := s.Store.MembershipsOfUser(c.Request.Context(), u.ID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, MeResponse{User: accountUser(u), Memberships: accountMemberships(ms)})
}

// loadUser loads the signed-in user; a user deleted since the token was issued is 401.
func (s *server) loadUser(c *gin.Context, id string) (store.User, bool) {
	u, err := s.Store.GetUser(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		unauthorized(c, "the account no longer exists")
		return u, false
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return u, false
	}
	return u, true
}

func (s *server) getMe(c *gin.Context) {
	p, ok := signedUser(c)
	if !ok {
		return
	}
	if u, ok := s.loadUser(c, p.UserID); ok {
		s.me(c, u)
	}
}

type patchMeRequest struct {
	Name *string `json:"name"`
	// Email is refused with a clear message: changing it needs a confirmation mail to the
	// new address, which is not built yet.
	Email *string `json:"email"`
}

func (s *server) patchMe(c *gin.Context) {
	p, ok := signedUser(c)
	if !ok {
		return
	}
	var req patchMeRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	if req.Email != nil {
		errs = append(errs, FieldError{Field: "email", Message: "cannot be changed yet"})
	}
	if req.Name == nil && req.Email == nil {
		errs = append(errs, FieldError{Field: "name", Message: "is required"})
	}
	var name, msg string
	if req.Name != nil {
		if name, msg = checkName(*req.Name, true); msg != "" {
			errs = append(errs, FieldError{Field: "name", Message: msg})
		}
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	u, err := s.Store.SetUserName(c.Request.Context(), p.UserID, name)
	if errors.Is(err, store.ErrNotFound) {
		unauthorized(c, "the account no longer exists")
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.me(c, u)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *server) changePassword(c *gin.Context) {
	p, ok := signedUser(c)
	if !ok || !s.sessionsEnabled(c) {
		return
	}
	var req changePasswordRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	if req.CurrentPassword == "" {
		errs = append(errs, FieldError{Field: "current_password", Message: "is required"})
	}
	if err := auth.ValidatePassword(req.NewPassword); err != nil {
		errs = append(errs, FieldError{Field: "new_password", Message: err.Error()})
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	u, ok := s.loadUser(c, p.UserID)
	if !ok {
		return
	}
	// A stolen access token must not become a way to guess the password: wrong current
	// passwords count as failed sign-ins of the account.
	lim := s.limits().LoginFailuresPerEmail
	bucket := "login:email:" + u.Email
	if s.rateLimited(c, bucket, lim, false) {
		return
	}
	ctx := c.Request.Context()
	if err := auth.CheckPassword(u.PasswordHash, req.CurrentPassword); err != nil {
		if !errors.Is(err, auth.ErrWrongPassword) {
			s.internal(c, "check password", err)
			return
		}
		if _, herr := s.Store.RateHit(ctx, bucket, lim.Window); herr != nil {
			s.unavailable(c, "the database", herr)
			return
		}
		validationProblem(c, []FieldError{{Field: "current_password", Message: "is not correct"}})
		return
	}
	hash, err := auth.HashPassword(req.NewPassword)
	if err != nil {
		s.internal(c, "hash password", err)
		return
	}
	var tokens SessionTokens
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := store.SetPassword(ctx, tx, u.ID, hash); err != nil {
			return err
		}
		// Every session ends, this one included; the caller gets a new one.
		if err := store.RevokeUserSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		var err error
		tokens, err = s.issueSession(ctx, tx, u.ID)
		return err
	})
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.audit(c, "user.password_changed", "user", u.ID, nil)
	c.JSON(http.StatusOK, tokens)
}

type resetRequest struct {
	Email string `json:"email"`
}

func (s *server) requestPasswordReset(c *gin.Context) {
	lim := s.limits()
	if s.rateLimited(c, "reset:ip:"+clientIP(c), lim.ResetPerIP, true) {
		return
	}
	var req resetRequest
	if !decodeJSON(c, &req) {
		return
	}
	email, msg := checkEmail(req.Email)
	if msg != "" {
		validationProblem(c, []FieldError{{Field: "email", Message: msg}})
		return
	}
	// Counted whether or not the account exists, so the limit reveals nothing either.
	if s.rateLimited(c, "reset:email:"+email, lim.ResetPerEmail, true) {
		return
	}
	accepted := func() {
		c.JSON(http.StatusAccepted, gin.H{"status": "if an account exists for this email, a reset link is on its way"})
	}
	ctx := c.Request.Context()
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		accepted()
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	token, hash, err := auth.NewOpaque(auth.ResetPrefix)
	if err != nil {
		s.internal(c, "generate reset token", err)
		return
	}
	if err := s.Store.CreatePasswordReset(ctx, u.ID, hash, ResetTTL); err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.auditPublic(c, store.AuditEntry{ActorUserID: u.ID, Actor: email, Action: "user.password_reset_requested",
		TargetType: "user", TargetID: u.ID})
	// The mail goes out after the answer, so known and unknown emails answer equally fast;
	// a failure is logged (an error here would tell the caller the account exists).
	msgOut := resetMessage(s.Identity.AppURL, u, token)
	sendCtx := context.WithoutCancel(ctx)
	go s.sendMail(sendCtx, msgOut, "password reset")
	accepted()
}

func resetMessage(appURL string, u store.User, token string) notify.Message {
	link := strings.TrimRight(appURL, "/") + "/reset-password?token=" + url.QueryEscape(token)
	greeting := "Hello,"
	if u.Name != "" {
		greeting = "Hello " + u.Name + ","
	}
	return notify.Message{
		To:      []string{u.Email},
		Subject: ResetSubject,
		Text: greeting + "\n\nSomeone (hopefully you) asked to reset the password of your OmniTrackIQ account.\n" +
			"Open this link within one hour to choose a new password:\n\n" + link + "\n\n" +
			"The link works once. If you did not ask for it, ignore this email: your password stays as it is.\n",
	}
}

// sendMail sends m in the background of a request, logging (never returning) a failure.
func (s *server) sendMail(ctx context.Context, m notify.Message, what string) {
	if s.Mailer == nil {
		s.log.ErrorContext(ctx, "cannot send "+what+" email: no mailer configured (SMTP_URL)")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "send "+what+" email failed", "err", err)
	}
}

type confirmResetRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (s *server) confirmPasswordReset(c *gin.Context) {
	if s.rateLimited(c, "reset-confirm:ip:"+clientIP(c), s.limits().ResetPerIP, true) {
		return
	}
	var req confirmResetRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	if req.Token == "" {
		errs = append(errs, FieldError{Field: "token", Message: "is required"})
	}
	if err := auth.ValidatePassword(req.NewPassword); err != nil {
		errs = append(errs, FieldError{Field: "new_password", Message: err.Error()})
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	invalid := func(status int, detail string) {
		writeProblem(c, Problem{Type: typeResetToken, Title: "Invalid reset link", Status: status, Detail: detail})
	}
	if !auth.OpaqueWellFormed(auth.ResetPrefix, req.Token) {
		invalid(http.StatusBadRequest, "the reset link is not valid; ask for a new one")
		return
	}
	hash, err := auth.HashPassword(req.NewPassword)
	if err != nil {
		s.internal(c, "hash password", err)
		return
	}
	u, err := s.Store.ResetPassword(c.Request.Context(), auth.HashOpaque(req.Token), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		invalid(http.StatusBadRequest, "the reset link is not valid; ask for a new one")
		return
	case errors.Is(err, store.ErrResetUsed):
		invalid(http.StatusGone, "the reset link was already used; ask for a new one")
		return
	case errors.Is(err, store.ErrResetExpired):
		invalid(http.StatusGone, "the reset link has expired; ask for a new one")
		return
	case err != nil:
		s.unavailable(c, "the database", err)
		return
	}
	s.auditPublic(c, store.AuditEntry{ActorUserID: u.ID, Actor: u.Email, Action: "user.password_reset",
		TargetType: "user", TargetID: u.ID})
	c.Status(http.StatusNoContent)
}
