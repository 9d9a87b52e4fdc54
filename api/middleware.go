package api

import (
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

// workspaceKey is the gin context key of the authenticated workspace id.
type workspaceKey struct{}

// workspaceID is the authenticated workspace; every /v1 handler scopes by it.
func workspaceID(c *gin.Context) string {
	id, _ := c.Get(workspaceKey{})
	s, _ := id.(string)
	return s
}

// logRequests logs one line per request. It logs the path without the query and no
// headers, so neither API keys nor tokens reach the log.
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.InfoContext(c.Request.Context(), "request",
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"route", c.FullPath(),
		"status", c.Writer.Status(),
		"latency", time.Since(start),
		"workspace_id", workspaceID(c),
	)
}

// recoverPanics turns a handler panic into a 500 problem instead of a dropped connection.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.ErrorContext(c.Request.Context(), "panic in handler",
			"method", c.Request.Method, "path", c.Request.URL.Path, "panic", v, "stack", string(debug.Stack()))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		writeProblem(c, Problem{Type: typeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
			Detail: "an internal error occurred"})
	}()
	c.Next()
}

// limitBody caps the request body; decoders see an *http.MaxBytesError past the cap.
func limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	}
	c.Next()
}

func unauthorized(c *gin.Context, detail string) {
	c.Header("WWW-Authenticate", `Bearer realm="omnitrackiq"`)
	writeProblem(c, Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail})
}
