// Package auth holds the identity layer's pure logic: roles and the permission matrix,
// password hashing, access tokens (JWT) and opaque secrets (refresh, reset and invite tokens).
package auth

import "fmt"

// Role is a user's role in one workspace.
type Role string

// Roles, most powerful first.
const (
	Owner  Role = "owner"
	Admin  Role = "admin"
	Member Role = "member"
	Viewer Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Owner, Admin, Member, Viewer}

// ParseRole accepts a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q is not one of owner, admin, member, viewer", s)
}

// rank orders roles: a higher rank can do everything a lower one can.
func (r Role) rank() int {
	switch r {
	case Owner:
		return 4
	case Admin:
		return 3
	case Member:
		return 2
	case Viewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r is o or more powerful.
func (r Role) AtLeast(o Role) bool { return r.rank() >= o.rank() && r.rank() > 0 }

// Action is something a route does to a workspace. Every workspace route names exactly one.
type Action string

// Actions of the permission matrix (README "Permissions").
const (
	// ReadData: connections, syncs, schedules, metrics, orders, workspace settings.
	ReadData Action = "data:read"
	// RunSyncs: trigger syncs and backfills, run a schedule now.
	RunSyncs Action = "syncs:run"
	// ManageConnections: connect (token or OAuth), rename, pause, reconnect, change schedule.
	ManageConnections Action = "connections:manage"
	// DeleteConnections: disconnect, optionally purging the data.
	DeleteConnections Action = "connections:delete"
	// ManageReports: create, change, delete, pause, resume and run reports.
	ManageReports Action = "reports:manage"
	// ReadMembers: list members and pending invites.
	ReadMembers Action = "members:read"
	// ManageMembers: invite, revoke invites, change roles below owner, remove members.
	ManageMembers Action = "members:manage"
	// TransferOwnership: make another member the owner.
	TransferOwnership Action = "ownership:transfer"
	// ManageAPIKeys: create, list and revoke API keys.
	ManageAPIKeys Action = "apikeys:manage"
	// ReadAudit: read the audit log.
	ReadAudit Action = "audit:read"
	// ManageWorkspace: rename the workspace, change its currency or timezone.
	ManageWorkspace Action = "workspace:manage"
	// ManageBilling: change plan, open the billing portal.
	ManageBilling Action = "billing:manage"
)

// Actions lists every action in the order the README's matrix shows them.
var Actions = []Action{ReadData, RunSyncs, ManageConnections, DeleteConnections, ManageReports, ReadMembers,
	ManageMembers, TransferOwnership, ManageAPIKeys, ReadAudit, ManageWorkspace, ManageBilling}

// minRole is the least powerful role allowed each action: the whole matrix.
var minRole = map[Action]Role{
	ReadData:          Viewer,
	RunSyncs:          Member,
	ManageConnections: Member,
	DeleteConnections: Admin,
	ManageReports:     Member,
	ReadMembers:       Viewer,
	ManageMembers:     Admin,
	TransferOwnership: Owner,
	ManageAPIKeys:     Admin,
	ReadAudit:         Admin,
	ManageWorkspace:   Admin,
	ManageBilling:     Owner,
}

// Allowed reports whether role may do action. An unknown action is never allowed.
func Allowed(role Role, action Action) bool {
	min, ok := minRole[action]
	return ok && role.AtLeast(min)
}

// KeyScope is an API key's scope.
type KeyScope string

// API key scopes. A key acts for programs, never for people: it cannot manage members,
// keys, billing or read the audit log, whatever its scope.
const (
	ScopeRead  KeyScope = "read"
	ScopeWrite KeyScope = "write"
)

// ParseKeyScope accepts a scope name.
func ParseKeyScope(s string) (KeyScope, error) {
	switch KeyScope(s) {
	case ScopeRead, ScopeWrite:
		return KeyScope(s), nil
	}
	return "", fmt.Errorf("scope %q is not read or write", s)
}

// KeyAllowed reports whether an API key of the scope may do action.
func KeyAllowed(scope KeyScope, action Action) bool {
	switch action {
	case ReadData:
		return scope == ScopeRead || scope == ScopeWrite
	case RunSyncs, ManageConnections, DeleteConnections, ManageReports:
		return scope == ScopeWrite
	}
	return false
}
