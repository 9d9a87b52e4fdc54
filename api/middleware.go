package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
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

// Route classes pick a request's deadline (config.APILimits).
type routeClass int

const (
	classDefault routeClass = iota
	classHealth
	classAuth
	classAnalytics
)

// analyticsRoutes are the routes whose queries scale with a workspace's history. Each
// runs under the analytics deadline and holds an analytics slot (api/ratelimit.go).
var analyticsRoutes = map[string]bool{
	"/v1/metrics/summary":    true,
	"/v1/metrics/campaigns":  true,
	"/v1/metrics/timeseries": true,
	"/v1/metrics/channels":   true,
	"/v1/orders":             true,
	"/v1/reports/preview":    true,
}

// classify is the class of a registered route (gin's full path, "" for no route).
func classify(route string) routeClass {
	switch {
	case route == "/healthz" || route == "/readyz":
		return classHealth
	case strings.HasPrefix(route, "/v1/auth/"):
		return classAuth
	case analyticsRoutes[route]:
		return classAnalytics
	}
	return classDefault
}

// timeout is the deadline of a route class.
func (l apiLimits) timeout(c routeClass) time.Duration {
	switch c {
	case classHealth:
		return l.HealthTimeout
	case classAuth:
		return l.AuthTimeout
	case classAnalytics:
		return l.AnalyticsTimeout
	}
	return l.DefaultTimeout
}

// deadlineKey holds the request's deadline in the gin context, for timeout problems.
type deadlineKey struct{}

type requestDeadline struct {
	class   routeClass
	timeout time.Duration
}

// withDeadline gives the request a deadline by its route class. Every query of the
// request runs under it, so a slow one is cancelled (and its connection given back)
// instead of running for minutes. A handler that returns past the deadline without
// answering gets the timeout problem here.
func (s *server) withDeadline(c *gin.Context) {
	d := requestDeadline{class: classify(c.FullPath())}
	d.timeout = s.apiLimits.timeout(d.class)
	ctx, cancel := context.WithTimeout(c.Request.Context(), d.timeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Set(deadlineKey{}, d)
	c.Next()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !c.Writer.Written() {
		s.timedOut(c, ctx.Err())
	}
}

// isTimeout reports whether err comes from a deadline: the request's (the context, or
// pgx reporting it), or PostgreSQL cancelling the statement (57014 query_canceled, which
// both statement_timeout and the cancel request sent for a cancelled context produce).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == queryCanceled
}

// queryCanceled is PostgreSQL's SQLSTATE 57014.
const queryCanceled = "57014"

// timedOut answers 504: the request or one of its queries ran out of time. The query was
// cancelled, so nothing holds a connection for it any more.
func (s *server) timedOut(c *gin.Context, err error) {
	d, _ := c.Get(deadlineKey{})
	rd, _ := d.(requestDeadline)
	s.log.WarnContext(c.Request.Context(), "request timed out", "path", c.Request.URL.Path,
		"route", c.FullPath(), "timeout", rd.timeout, "err", err)
	detail := "the request did not finish in time; retry later"
	switch {
	case rd.class == classAnalytics:
		detail = fmt.Sprintf("the query took longer than %s; narrow the date range, or retry later", rd.timeout)
	case rd.timeout > 0:
		detail = fmt.Sprintf("the request took longer than %s; retry later", rd.timeout)
	}
	c.Header("Retry-After", strconv.Itoa(timeoutRetryAfter))
	writeProblem(c, Problem{Type: typeTimeout, Title: "Timed out", Status: http.StatusGatewayTimeout, Detail: detail})
}

// timeoutRetryAfter is the Retry-After of a timeout, in seconds: the same query right away
// would most likely time out again.
const timeoutRetryAfter = 10
