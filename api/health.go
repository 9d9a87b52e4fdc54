package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds each readiness check, so a hung dependency reads as down rather
// than hanging the orchestrator's probe.
const readyTimeout = 2 * time.Second

func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *server) readyz(c *gin.Context) {
	checks := map[string]func(context.Context) error{"postgres": s.Store.Ping}
	if s.Ready != nil {
		checks["temporal"] = s.Ready
	}
	status := map[string]string{}
	var down []string
	for _, name := range []string{"postgres", "temporal"} {
		check, ok := checks[name]
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		err := check(ctx)
		cancel()
		if err != nil {
			s.log.WarnContext(c.Request.Context(), "readiness check failed", "dependency", name, "err", err)
			status[name] = "down"
			down = append(down, name)
			continue
		}
		status[name] = "ok"
	}
	if len(down) > 0 {
		writeProblem(c, Problem{Type: typeNotReady, Title: "Not ready", Status: http.StatusServiceUnavailable,
			Detail: "unreachable: " + strings.Join(down, ", "), Checks: status})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": status})
}
