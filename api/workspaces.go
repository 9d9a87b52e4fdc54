package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// WorkspaceInfo is a workspace as the API shows it. Role is the caller's role in it; an
// API key has none.
type WorkspaceInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Currency  string    `json:"currency"`
	Timezone  string    `json:"timezone"`
	CreatedAt time.Time `json:"created_at"`
	Role      string    `json:"role,omitempty"`
}

// WorkspaceList is the body of GET /v1/workspaces.
type WorkspaceList struct {
	Workspaces []WorkspaceInfo `json:"workspaces"`
}

// CreateWorkspaceRequest is the body of POST /v1/workspaces.
type CreateWorkspaceRequest struct {
	Name     string `json:"name"`
	Currency string `json:"currency"`
	Timezone string `json:"timezone"`
}

// UpdateWorkspaceRequest is the body of PATCH /v1/workspace; absent fields stay.
type UpdateWorkspaceRequest struct {
	Name     *string `json:"name"`
	Currency *string `json:"currency"`
	Timezone *string `json:"timezone"`
}

// Defaults of a new workspace when the request names none.
const (
	defaultCurrency = "USD"
	defaultTimezone = "UTC"
)

func workspaceDTO(w store.Workspace, role string) WorkspaceInfo {
	return WorkspaceInfo{ID: w.ID, Name: w.Name, Currency: w.Currency, Timezone: w.Timezone, CreatedAt: w.CreatedAt, Role: role}
}

// nameField validates a required name of a request field, collecting the problem in errs.
func nameField(field, raw string, errs *[]FieldError) string {
	name, msg := checkName(raw, true)
	if msg != "" {
		*errs = append(*errs, FieldError{field, msg})
	}
	return name
}

func checkCurrency(cur string, errs *[]FieldError) string {
	cur = strings.ToUpper(strings.TrimSpace(cur))
	if !money.IsCurrencyCode(cur) {
		*errs = append(*errs, FieldError{"currency", "must be a 3-letter ISO 4217 code such as USD"})
	}
	return cur
}

func checkTimezone(tz string, errs *[]FieldError) string {
	tz = strings.TrimSpace(tz)
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
		*errs = append(*errs, FieldError{"timezone", "must be an IANA time zone such as Europe/Paris"})
	}
	return tz
}

func (s *server) listWorkspaces(c *gin.Context) {
	ws, err := s.Store.UserWorkspaces(c.Request.Context(), principal(c).UserID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := WorkspaceList{Workspaces: make([]WorkspaceInfo, 0, len(ws))}
	for _, w := range ws {
		out.Workspaces = append(out.Workspaces, workspaceDTO(w.Workspace, w.Role))
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) createWorkspace(c *gin.Context) {
	var req CreateWorkspaceRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	name := nameField("name", req.Name, &errs)
	cur, tz := defaultCurrency, defaultTimezone
	if req.Currency != "" {
		cur = checkCurrency(req.Currency, &errs)
	}
	if req.Timezone != "" {
		tz = checkTimezone(req.Timezone, &errs)
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	p := principal(c)
	w, err := s.Store.CreateOwnedWorkspace(c.Request.Context(), p.UserID, name, cur, tz)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.auditIn(c, w.ID, "workspace.created", "workspace", w.ID, map[string]any{"name": w.Name})
	c.JSON(http.StatusCreated, workspaceDTO(w, "owner"))
}

func (s *server) getWorkspace(c *gin.Context) {
	p := principal(c)
	w, err := s.Store.GetWorkspace(c.Request.Context(), p.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "workspace "+p.WorkspaceID)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, workspaceDTO(w, string(p.Role)))
}

func (s *server) updateWorkspace(c *gin.Context) {
	var req UpdateWorkspaceRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	var u store.WorkspaceUpdate
	if req.Name != nil {
		n := nameField("name", *req.Name, &errs)
		u.Name = &n
	}
	if req.Currency != nil {
		cur := checkCurrency(*req.Currency, &errs)
		u.Currency = &cur
	}
	if req.Timezone != nil {
		tz := checkTimezone(*req.Timezone, &errs)
		u.Timezone = &tz
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	p := principal(c)
	before, after, err := s.Store.UpdateWorkspace(c.Request.Context(), p.WorkspaceID, u)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "workspace "+p.WorkspaceID)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	changed := map[string]any{}
	for _, f := range []struct{ name, from, to string }{
		{"name", before.Name, after.Name}, {"currency", before.Currency, after.Currency}, {"timezone", before.Timezone, after.Timezone},
	} {
		if f.from != f.to {
			changed[f.name] = map[string]string{"from": f.from, "to": f.to}
		}
	}
	if len(changed) > 0 {
		s.audit(c, "workspace.updated", "workspace", after.ID, changed)
	}
	c.JSON(http.StatusOK, workspaceDTO(after, string(p.Role)))
}
