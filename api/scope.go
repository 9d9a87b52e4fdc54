package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// WorkspaceHeader names the workspace a signed-in user acts on. API keys belong to one
// workspace and need no header; if they send one, it must be theirs.
const WorkspaceHeader = "X-Workspace-ID"

// Access is who may call a route.
type Access int

const (
	// Public routes need no credentials (sign-up, sign-in, OAuth callbacks, invite lookup).
	Public Access = iota
	// Signed routes need a signed-in user but no workspace (/v1/me, the user's workspaces).
	Signed
	// Scoped routes act on one workspace and name the action of the permission matrix.
	Scoped
)

// Policy is a route's access rule: the one place authorization is decided.
type Policy struct {
	Access Access
	// Action is the matrix action of a Scoped route.
	Action auth.Action
	// UsersOnly refuses API keys on a Scoped route whatever their scope: the action needs a
	// person (an OAuth consent).
	UsersOnly bool
	// Gate is what a Scoped route needs from the workspace's billing standing (checked only
	// when billing is configured). A route that names none (the zero value, GateRead) gets
	// one from its action and method: GateSync for running syncs, GateReduce for
	// disconnecting, GateRead for GET and for a data:read route of another method (a query
	// with a body, such as a report preview), GateWrite for anything else.
	Gate billing.Gate
}

// resolveGate is the gate the route is checked with; see Policy.Gate.
func (p Policy) resolveGate(method string) billing.Gate {
	switch {
	case p.Gate != billing.GateRead:
		return p.Gate
	case p.Action == auth.RunSyncs:
		return billing.GateSync
	case p.Action == auth.DeleteConnections:
		return billing.GateReduce
	case method == http.MethodGet, p.Action == auth.ReadData:
		return billing.GateRead
	}
	return billing.GateWrite
}

// RoutePolicy is a registered route and its policy, for tests and the README matrix.
type RoutePolicy struct {
	Method, Path string
	Policy       Policy
}

// Principal is the authenticated caller of a request.
type Principal struct {
	// UserID is set for a signed-in user; APIKeyID for an API key. Exactly one is set.
	UserID   string
	Session  string // the refresh-token family of the user's access token
	APIKeyID string
	// Actor names the caller in the audit log: the key prefix, or the user id.
	Actor string
	Scope auth.KeyScope
	// WorkspaceID and Role are set on Scoped routes (Role only for users).
	WorkspaceID string
	Role        auth.Role
}

type principalKey struct{}

// principal is the request's caller; the zero Principal on Public routes.
func principal(c *gin.Context) Principal {
	p, _ := c.Get(principalKey{})
	v, _ := p.(Principal)
	return v
}

// handle registers a route with its policy. Every route of the API goes through here, so
// none can exist without an authorization rule.
func (s *server) handle(g *gin.RouterGroup, method, path string, pol Policy, h gin.HandlerFunc) {
	full := strings.TrimSuffix(g.BasePath(), "/") + path
	if pol.Access == Scoped {
		pol.Gate = pol.resolveGate(method)
	}
	s.policies = append(s.policies, RoutePolicy{Method: method, Path: full, Policy: pol})
	chain := []gin.HandlerFunc{}
	if pol.Access != Public {
		chain = append(chain, s.authenticate)
	}
	switch pol.Access {
	case Signed:
		chain = append(chain, requireUser)
	case Scoped:
		if pol.UsersOnly {
			chain = append(chain, requireUser)
		}
		chain = append(chain, s.authorize(pol.Action, pol.Gate))
	}
	chain = append(chain, h)
	g.Handle(method, path, chain...)
}

// authenticate resolves "Authorization: Bearer <credential>" to a Principal: an API key
// (otq_...) or a user's access token (a JWT).
func (s *server) authenticate(c *gin.Context) {
	scheme, cred, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		unauthorized(c, "send an access token or API key in the Authorization header as: Bearer <token>")
		return
	}
	if strings.HasPrefix(cred, apikey.Scheme) {
		s.authenticateKey(c, cred)
		return
	}
	if s.Tokens == nil {
		unauthorized(c, "the API key is not valid")
		return
	}
	claims, err := s.Tokens.Verify(cred)
	if err != nil {
		unauthorized(c, "the access token is not valid or has expired; refresh it or sign in again")
		return
	}
	active, err := s.Store.SessionActive(c.Request.Context(), claims.Subject, claims.Session)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	if !active {
		unauthorized(c, "the session has ended; sign in again")
		return
	}
	c.Set(principalKey{}, Principal{UserID: claims.Subject, Session: claims.Session, Actor: claims.Subject})
	c.Next()
}

func (s *server) authenticateKey(c *gin.Context, key string) {
	if !apikey.WellFormed(key) {
		unauthorized(c, "the API key is not valid")
		return
	}
	k, err := s.Store.APIKeyPrincipal(c.Request.Context(), apikey.Hash(key))
	if errors.Is(err, store.ErrNotFound) {
		unauthorized(c, "the API key is not valid")
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.Set(principalKey{}, Principal{APIKeyID: k.KeyID, Actor: k.Prefix, Scope: auth.KeyScope(k.Scope), WorkspaceID: k.WorkspaceID})
	c.Set(workspaceKey{}, k.WorkspaceID)
	c.Next()
}

// requireUser refuses API keys on routes about a person (their profile, their workspaces).
func requireUser(c *gin.Context) {
	if principal(c).UserID == "" {
		forbidden(c, "this route needs a signed-in user, not an API key")
		return
	}
	c.Next()
}

// authorize resolves the workspace of a Scoped route, checks the action against the
// permission matrix, then (with billing configured) the workspace's dunning state against
// the route's gate: 402 when an unpaid invoice has restricted or suspended it. A user who
// is not a member gets 404, as for a workspace that does not exist, so ids of other
// workspaces reveal nothing.
func (s *server) authorize(action auth.Action, gate billing.Gate) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		named := strings.TrimSpace(c.GetHeader(WorkspaceHeader))
		if p.APIKeyID != "" {
			if named != "" && named != p.WorkspaceID {
				forbidden(c, "this API key belongs to another workspace than "+WorkspaceHeader+" names")
				return
			}
			if !auth.KeyAllowed(p.Scope, action) {
				forbidden(c, "an API key with scope "+string(p.Scope)+" may not "+describe(action))
				return
			}
			if !s.admit(c, p.WorkspaceID, gate) {
				return
			}
			c.Next()
			return
		}
		if named == "" {
			writeProblem(c, Problem{Type: typeWorkspaceRequired, Title: "Workspace required", Status: http.StatusBadRequest,
				Detail: "name the workspace in the " + WorkspaceHeader + " header (GET /v1/workspaces lists yours)"})
			return
		}
		role, err := s.Store.MembershipRole(c.Request.Context(), p.UserID, named)
		if errors.Is(err, store.ErrNotFound) {
			notFound(c, "workspace "+named)
			return
		}
		if err != nil {
			s.unavailable(c, "the database", err)
			return
		}
		p.WorkspaceID, p.Role = named, auth.Role(role)
		c.Set(principalKey{}, p)
		c.Set(workspaceKey{}, named)
		if !auth.Allowed(p.Role, action) {
			forbidden(c, "the "+role+" role may not "+describe(action))
			return
		}
		if !s.admit(c, named, gate) {
			return
		}
		c.Next()
	}
}

// describe says what an action lets one do, for 403 messages.
func describe(a auth.Action) string {
	switch a {
	case auth.ReadData:
		return "read this workspace's data"
	case auth.RunSyncs:
		return "run syncs or backfills"
	case auth.ManageConnections:
		return "connect or change connections"
	case auth.DeleteConnections:
		return "disconnect connections"
	case auth.ReadMembers:
		return "list members"
	case auth.ManageMembers:
		return "invite, change or remove members"
	case auth.TransferOwnership:
		return "transfer ownership"
	case auth.ManageAPIKeys:
		return "manage API keys"
	case auth.ReadAudit:
		return "read the audit log"
	case auth.ManageWorkspace:
		return "change workspace settings"
	case auth.ManageBilling:
		return "change billing"
	}
	return string(a)
}

func forbidden(c *gin.Context, detail string) {
	writeProblem(c, Problem{Type: typeForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: detail})
}

// clientIP is the caller's address for rate limits and the audit log. gin trusts
// X-Forwarded-For only from the proxies named in TRUSTED_PROXIES (none by default).
func clientIP(c *gin.Context) string { return c.ClientIP() }

// audit records a security-relevant action of the request's principal. A failure to
// record is logged, not returned: the action itself has already happened.
func (s *server) audit(c *gin.Context, action, targetType, targetID string, details map[string]any) {
	p := principal(c)
	e := store.AuditEntry{
		WorkspaceID: p.WorkspaceID, ActorUserID: p.UserID, ActorAPIKeyID: p.APIKeyID, Actor: p.Actor,
		Action: action, TargetType: targetType, TargetID: targetID, IP: clientIP(c), Details: details,
	}
	if err := store.AppendAudit(c.Request.Context(), s.Store.Pool, e); err != nil {
		s.log.ErrorContext(c.Request.Context(), "audit log write failed", "action", action, "err", err)
	}
}
