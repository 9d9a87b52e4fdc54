package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// APIKey is an API key as the API lists it: never its secret or hash.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  *string    `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreatedAPIKey is the answer to POST /v1/api-keys: the only time the secret is shown.
type CreatedAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// APIKeyList is the body of GET /v1/api-keys.
type APIKeyList struct {
	APIKeys []APIKey `json:"api_keys"`
}

// CreateAPIKeyRequest is the body of POST /v1/api-keys.
type CreateAPIKeyRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

func apiKeyDTO(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scope: k.Scope, CreatedAt: k.CreatedAt,
		CreatedBy: optional(k.CreatedBy), LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (s *server) createAPIKey(c *gin.Context) {
	var req CreateAPIKeyRequest
	if !decodeJSON(c, &req) {
		return
	}
	var errs []FieldError
	name := nameField("name", req.Name, &errs)
	scope, err := auth.ParseKeyScope(req.Scope)
	switch {
	case req.Scope == "":
		errs = append(errs, FieldError{"scope", "is required: read or write"})
	case err != nil:
		errs = append(errs, FieldError{"scope", "must be read or write"})
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	p := principal(c)
	secret, k, err := apikey.IssueWith(c.Request.Context(), s.Store, p.WorkspaceID, name,
		apikey.Options{Scope: string(scope), CreatedBy: p.UserID})
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	s.audit(c, "apikey.created", "api_key", k.ID, map[string]any{"name": k.Name, "prefix": k.Prefix, "scope": k.Scope})
	c.JSON(http.StatusCreated, CreatedAPIKey{APIKey: apiKeyDTO(k), Secret: secret})
}

func (s *server) listAPIKeys(c *gin.Context) {
	keys, err := s.Store.ListAPIKeys(c.Request.Context(), principal(c).WorkspaceID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := APIKeyList{APIKeys: make([]APIKey, 0, len(keys))}
	for _, k := range keys {
		out.APIKeys = append(out.APIKeys, apiKeyDTO(k))
	}
	c.JSON(http.StatusOK, out)
}

// revokeAPIKey revokes a key; revoking a revoked key answers 204 again.
func (s *server) revokeAPIKey(c *gin.Context) {
	id := c.Param("id")
	k, revoked, err := s.Store.RevokeAPIKeyOnce(c.Request.Context(), principal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "api key "+id)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	if revoked {
		s.audit(c, "apikey.revoked", "api_key", k.ID, map[string]any{"name": k.Name, "prefix": k.Prefix})
	}
	c.Status(http.StatusNoContent)
}
