// Package api is the HTTP API: a gin router whose /v1 routes are authenticated by
// workspace API keys and answer errors as RFC 7807 problem details.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

// Deps are what the API needs from the rest of the program.
type Deps struct {
	Store *store.Store
	Syncs Syncs
	// Readers verify a new connection's token and read its account's currency and timezone.
	// A channel without a reader cannot be connected yet.
	Connectors channels.Registry
	// Box seals access tokens with secretbox.ConnectionTokenAAD as additional data.
	Box *secretbox.Box
	// Ready reports whether Temporal answers, for /readyz. Nil means nothing to check.
	Ready func(ctx context.Context) error
	// ShopifyWebhookSecret verifies Shopify webhook signatures (the app's client secret).
	ShopifyWebhookSecret []byte
	Logger               *slog.Logger
}

// Syncs runs syncs and schedules. The program implements it with Temporal.
type Syncs interface {
	TriggerSync(ctx context.Context, conn store.Connection) (h syncsvc.Handle, started bool, err error)
	// GetSync returns syncsvc.ErrNotFound for an unknown workflow or another workspace's.
	GetSync(ctx context.Context, workspaceID, workflowID string) (syncsvc.SyncStatus, error)
	StartBackfill(ctx context.Context, conn store.Connection, from, to string) (h syncsvc.Handle, started bool, err error)
	// EnsureSchedule creates the connection's schedule (syncsvc.DefaultCron, connection timezone) if missing.
	EnsureSchedule(ctx context.Context, conn store.Connection) error
	GetSchedule(ctx context.Context, conn store.Connection) (syncsvc.Schedule, error)
	// UpdateSchedule returns a *syncsvc.ValidationError for a bad cron or timezone.
	UpdateSchedule(ctx context.Context, conn store.Connection, u syncsvc.ScheduleUpdate) (syncsvc.Schedule, error)
	TriggerSchedule(ctx context.Context, conn store.Connection) error
	// StartWorkspaceSync syncs every connection of the workspace; started=false when one runs.
	StartWorkspaceSync(ctx context.Context, workspaceID string) (h syncsvc.Handle, started bool, err error)
}

// maxBodyBytes bounds every request body. The largest legitimate body is a connection
// with a token of under 4 KiB.
const maxBodyBytes = 16 << 10

type server struct {
	Deps
	log *slog.Logger
}

// NewRouter returns the API's handler.
func NewRouter(d Deps) *gin.Engine {
	s := &server{Deps: d, log: d.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Redirects would turn a POST into a GET on clients that follow them; answer 404 instead.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	r.Use(s.logRequests, s.recoverPanics)
	r.NoRoute(func(c *gin.Context) { notFound(c, "route "+c.Request.Method+" "+c.Request.URL.Path) })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, Problem{Type: typeMethod, Status: http.StatusMethodNotAllowed,
			Detail: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)

	// Webhooks are authenticated by the provider's signature over the raw body, which the
	// handler reads itself under its own size limit.
	r.POST("/webhooks/shopify", s.shopifyWebhook)

	v1 := r.Group("/v1", limitBody, s.authenticate)
	v1.POST("/connections", s.createConnection)
	v1.GET("/connections", s.listConnections)
	v1.GET("/connections/:id", s.getConnection)
	v1.POST("/connections/:id/syncs", s.triggerSync)
	v1.POST("/connections/:id/backfills", s.startBackfill)
	v1.GET("/connections/:id/schedule", s.getSchedule)
	v1.PATCH("/connections/:id/schedule", s.updateSchedule)
	v1.POST("/connections/:id/schedule/trigger", s.triggerSchedule)
	v1.POST("/syncs", s.startWorkspaceSync)
	v1.GET("/syncs/:workflow_id", s.getSync)
	v1.GET("/metrics/summary", s.metricsSummary)
	v1.GET("/metrics/campaigns", s.metricsCampaigns)
	v1.GET("/metrics/timeseries", s.metricsTimeseries)
	v1.GET("/metrics/channels", s.metricsChannels)
	v1.GET("/orders", s.listOrders)
	return r
}
