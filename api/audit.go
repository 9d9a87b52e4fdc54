package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// AuditEntry is one entry of the audit log as the API shows it.
type AuditEntry struct {
	ID            int64          `json:"id"`
	At            time.Time      `json:"at"`
	Actor         string         `json:"actor"`
	ActorUserID   *string        `json:"actor_user_id"`
	ActorAPIKeyID *string        `json:"actor_api_key_id"`
	Action        string         `json:"action"`
	TargetType    string         `json:"target_type"`
	TargetID      string         `json:"target_id"`
	IP            string         `json:"ip"`
	Details       map[string]any `json:"details"`
}

// AuditPage is the body of GET /v1/audit. NextBefore is the before of the next (older)
// page, null on the last page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextBefore *int64       `json:"next_before"`
}

// Audit page sizes.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 200
)

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *server) listAudit(c *gin.Context) {
	var errs []FieldError
	limit := defaultAuditLimit
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			errs = append(errs, FieldError{"limit", "must be a whole number from 1 to 200"})
		}
		limit = n
	}
	var before int64
	if v, ok := c.GetQuery("before"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, FieldError{"before", "must be a positive entry id (next_before of the previous page)"})
		}
		before = n
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	entries, err := s.Store.ListAudit(c.Request.Context(), principal(c).WorkspaceID, before, limit+1)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	page := AuditPage{Entries: make([]AuditEntry, 0, min(len(entries), limit))}
	for i, e := range entries {
		if i == limit {
			next := entries[limit-1].ID
			page.NextBefore = &next
			break
		}
		page.Entries = append(page.Entries, AuditEntry{
			ID: e.ID, At: e.At, Actor: e.Actor, ActorUserID: optional(e.ActorUserID), ActorAPIKeyID: optional(e.ActorAPIKeyID),
			Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, IP: e.IP, Details: e.Details,
		})
	}
	c.JSON(http.StatusOK, page)
}

// auditIn records an action of the request's principal in a workspace the principal was
// not scoped to when the request began (a workspace it just created or joined).
func (s *server) auditIn(c *gin.Context, workspaceID, action, targetType, targetID string, details map[string]any) {
	p := principal(c)
	s.appendAudit(c, store.AuditEntry{
		WorkspaceID: workspaceID, ActorUserID: p.UserID, ActorAPIKeyID: p.APIKeyID, Actor: p.Actor,
		Action: action, TargetType: targetType, TargetID: targetID, Details: details,
	})
}

// appendAudit writes e with the request's IP. Like s.audit, a failure is logged only.
func (s *server) appendAudit(c *gin.Context, e store.AuditEntry) {
	e.IP = clientIP(c)
	if err := store.AppendAudit(c.Request.Context(), s.Store.Pool, e); err != nil {
		s.log.ErrorContext(c.Request.Context(), "audit log write failed", "action", e.Action, "err", err)
	}
}
