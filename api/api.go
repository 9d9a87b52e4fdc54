// Package api is the HTTP API: a gin router whose /v1 routes are authenticated by
// workspace API keys and answer errors as RFC 7807 problem details.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
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
	// Tokens verifies users' access tokens. Nil means only API keys authenticate.
	Tokens *auth.Tokens
	// Mailer sends invites, password resets and notices.
	Mailer notify.Mailer
	// Identity is the identity part of the configuration (signup mode, public URLs, OAuth clients).
	Identity config.Identity
	// OAuth runs the providers' OAuth flows for OAuth connect. Nil means no provider can be
	// connected by OAuth.
	OAuth *oauth.Client
	// Disconnector removes provider-side registrations when a connection is disconnected;
	// nil means there is nothing to remove.
	Disconnector Disconnector
	// Billing runs subscriptions on Stripe. Nil turns billing off (a self-hosted install
	// without Stripe): the billing routes answer 503 and plan limits are not enforced.
	Billing Billing
	// Reports runs report schedules and runs on Temporal. Nil: the report routes that need
	// Temporal answer 503.
	Reports ReportSchedules
	// CheckWebhookURL refuses a report webhook URL the worker must not call (a private or
	// loopback address unless configuration allows it). Nil: any absolute http(s) URL.
	CheckWebhookURL func(ctx context.Context, raw string) error
	// Limits are the request deadlines and the rate and analytics concurrency limits; zero
	// fields take config.DefaultAPILimits.
	Limits config.APILimits
}

// Billing is checkout, portal, overview and the Stripe webhook. internal/billingsvc
// implements it.
type Billing interface {
	// Checkout returns a *billingsvc.ValidationError for a plan that cannot be bought.
	Checkout(ctx context.Context, in billingsvc.CheckoutRequest) (billingsvc.CheckoutResult, error)
	// Portal returns billingsvc.ErrNoCustomer when the workspace never checked out.
	Portal(ctx context.Context, workspaceID, flow string) (string, error)
	Overview(ctx context.Context, workspaceID string) (billingsvc.Overview, error)
	// VerifyEvent checks the Stripe-Signature of the raw body; a *billingsvc.BadEventError
	// means the delivery is not a valid signed event.
	VerifyEvent(payload []byte, signature string) (billingsvc.Event, error)
	// ApplyEvent records and applies a verified event; an error means Stripe should retry.
	ApplyEvent(ctx context.Context, ev billingsvc.Event) (outcome string, err error)
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
	// DeleteSchedule deletes the connection's schedule; one already gone is not an error.
	DeleteSchedule(ctx context.Context, conn store.Connection) error
	// CancelRuns cancels the connection's on-demand sync and the named workflows; ones
	// already gone or closed are not an error.
	CancelRuns(ctx context.Context, conn store.Connection, workflowIDs []string) error
}

// maxBodyBytes bounds every request body. The largest legitimate body is a connection
// with a token of under 4 KiB.
const maxBodyBytes = 16 << 10

type server struct {
	Deps
	log       *slog.Logger
	policies  []RoutePolicy
	apiLimits apiLimits
	slots     *slots
}

// Router is the API's handler; Policies lists every route with its access rule.
type Router struct {
	*gin.Engine
	policies []RoutePolicy
	slots    *slots
}

// Policies returns every registered route and its policy, in registration order.
func (r *Router) Policies() []RoutePolicy { return append([]RoutePolicy(nil), r.policies...) }

// NewRouter returns the API's handler.
func NewRouter(d Deps) *Router {
	s := &server{Deps: d, log: d.Logger, apiLimits: apiLimits(d.Limits.WithDefaults())}
	s.slots = newSlots(s.apiLimits.AnalyticsPerWorkspace, s.apiLimits.AnalyticsPerReplica)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Redirects would turn a POST into a GET on clients that follow them; answer 404 instead.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	// Every request gets its route class's deadline; /v1 requests are then counted against
	// the per-address and per-credential rate limits (api/ratelimit.go).
	r.Use(s.logRequests, s.recoverPanics, s.withDeadline, s.rateLimit)
	r.NoRoute(func(c *gin.Context) { notFound(c, "route "+c.Request.Method+" "+c.Request.URL.Path) })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, Problem{Type: typeMethod, Status: http.StatusMethodNotAllowed,
			Detail: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})

	public := Policy{Access: Public}
	s.handle(&r.RouterGroup, "GET", "/healthz", public, s.healthz)
	s.handle(&r.RouterGroup, "GET", "/readyz", public, s.readyz)

	// Webhooks are authenticated by the provider's signature over the raw body, which the
	// handler reads itself under its own size limit.
	s.handle(&r.RouterGroup, "POST", "/webhooks/shopify", public, s.shopifyWebhook)

	v1 := r.Group("/v1", limitBody)
	read := Policy{Access: Scoped, Action: auth.ReadData}
	runs := Policy{Access: Scoped, Action: auth.RunSyncs}
	manage := Policy{Access: Scoped, Action: auth.ManageConnections}
	s.handle(v1, "POST", "/connections", Policy{Access: Scoped, Action: auth.ManageConnections, Gate: billing.GateCreate}, s.createConnection)
	s.handle(v1, "GET", "/connections", read, s.listConnections)
	s.handle(v1, "GET", "/connections/:id", read, s.getConnection)
	s.handle(v1, "POST", "/connections/:id/syncs", runs, s.triggerSync)
	s.handle(v1, "POST", "/connections/:id/backfills", runs, s.startBackfill)
	s.handle(v1, "GET", "/connections/:id/schedule", read, s.getSchedule)
	s.handle(v1, "PATCH", "/connections/:id/schedule", manage, s.updateSchedule)
	s.handle(v1, "POST", "/connections/:id/schedule/trigger", runs, s.triggerSchedule)
	s.handle(v1, "POST", "/syncs", runs, s.startWorkspaceSync)
	s.handle(v1, "GET", "/syncs/:workflow_id", read, s.getSync)
	// The analytics routes (analyticsRoutes) each hold an analytics slot while they run.
	s.handle(v1, "GET", "/metrics/summary", read, s.analyticsSlot(s.metricsSummary))
	s.handle(v1, "GET", "/metrics/campaigns", read, s.analyticsSlot(s.metricsCampaigns))
	s.handle(v1, "GET", "/metrics/timeseries", read, s.analyticsSlot(s.metricsTimeseries))
	s.handle(v1, "GET", "/metrics/channels", read, s.analyticsSlot(s.metricsChannels))
	s.handle(v1, "GET", "/orders", Policy{Access: Scoped, Action: auth.ReadData, Gate: billing.GateExport}, s.analyticsSlot(s.listOrders))
	// OAuth connect (api/oauth.go). The callback is Public: the browser arrives from the
	// provider, and the signed single-use state authenticates it.
	// A consent is given by a person, so API keys cannot start one.
	s.handle(v1, "POST", "/connections/oauth/:provider/start", Policy{Access: Scoped, Action: auth.ManageConnections, UsersOnly: true, Gate: billing.GateCreate}, s.startOAuth)
	s.handle(v1, "GET", "/oauth/callback/:provider", Policy{Access: Public}, s.oauthCallback)

	// Workspaces, members, invites, API keys and the audit log (README "Permissions").
	signed := Policy{Access: Signed}
	s.handle(v1, "GET", "/workspaces", signed, s.listWorkspaces)
	s.handle(v1, "POST", "/workspaces", signed, s.createWorkspace)
	s.handle(v1, "GET", "/workspace", read, s.getWorkspace)
	s.handle(v1, "PATCH", "/workspace", Policy{Access: Scoped, Action: auth.ManageWorkspace}, s.updateWorkspace)
	s.handle(v1, "POST", "/workspace/leave", Policy{Access: Scoped, Action: auth.ReadData, UsersOnly: true, Gate: billing.GateReduce}, s.leaveWorkspace)
	s.handle(v1, "POST", "/workspace/transfer-ownership", Policy{Access: Scoped, Action: auth.TransferOwnership, Gate: billing.GateBilling}, s.transferOwnership)
	readMembers := Policy{Access: Scoped, Action: auth.ReadMembers}
	manageMembers := Policy{Access: Scoped, Action: auth.ManageMembers}
	s.handle(v1, "GET", "/members", Policy{Access: Scoped, Action: auth.ReadMembers, Gate: billing.GateBilling}, s.listMembers)
	s.handle(v1, "PATCH", "/members/:user_id", manageMembers, s.updateMember)
	s.handle(v1, "DELETE", "/members/:user_id", Policy{Access: Scoped, Action: auth.ManageMembers, Gate: billing.GateReduce}, s.removeMember)
	s.handle(v1, "POST", "/invites", manageMembers, s.createInvite)
	s.handle(v1, "GET", "/invites", readMembers, s.listInvites)
	s.handle(v1, "DELETE", "/invites/:id", Policy{Access: Scoped, Action: auth.ManageMembers, Gate: billing.GateReduce}, s.revokeInvite)
	s.handle(v1, "GET", "/invites/lookup", public, s.lookupInvite)
	s.handle(v1, "POST", "/invites/accept", public, s.acceptInvite)
	s.handle(v1, "POST", "/invites/accept-as-me", signed, s.acceptInviteAsMe)
	manageKeys := Policy{Access: Scoped, Action: auth.ManageAPIKeys}
	s.handle(v1, "POST", "/api-keys", manageKeys, s.createAPIKey)
	s.handle(v1, "GET", "/api-keys", manageKeys, s.listAPIKeys)
	s.handle(v1, "DELETE", "/api-keys/:id", Policy{Access: Scoped, Action: auth.ManageAPIKeys, Gate: billing.GateReduce}, s.revokeAPIKey)
	s.handle(v1, "GET", "/audit", Policy{Access: Scoped, Action: auth.ReadAudit}, s.listAudit)

	// Users and sessions (auth.go). gin.New trusts every proxy's X-Forwarded-For; client
	// IPs key the sign-in rate limits, so only the configured proxies are trusted (none by
	// default). FromEnv validates the list; a bad one falls back to trusting none.
	if err := r.SetTrustedProxies(d.Identity.TrustedProxies); err != nil {
		s.log.Error("TRUSTED_PROXIES ignored", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	s.registerAuth(v1)
	// Connection lifecycle: rename, pause/resume, disconnect (and purge).
	s.handle(v1, "PATCH", "/connections/:id", manage, s.updateConnection)
	s.handle(v1, "DELETE", "/connections/:id", Policy{Access: Scoped, Action: auth.DeleteConnections}, s.deleteConnection)
	// Billing (api/billing.go). Only the owner changes billing, and only in person; anyone
	// who reads the workspace sees its plan and limits. The Stripe webhook is Public: the
	// Stripe-Signature over the raw body authenticates it, and it reads its own body.
	// Billing stays open whatever the dunning standing, so a suspended workspace can pay.
	manageBilling := Policy{Access: Scoped, Action: auth.ManageBilling, UsersOnly: true, Gate: billing.GateBilling}
	s.handle(v1, "POST", "/billing/checkout", manageBilling, s.createCheckout)
	s.handle(v1, "POST", "/billing/portal", manageBilling, s.createPortal)
	s.handle(v1, "GET", "/billing", Policy{Access: Scoped, Action: auth.ReadData, Gate: billing.GateBilling}, s.getBilling)
	s.handle(&r.RouterGroup, "POST", "/webhooks/stripe", public, s.stripeWebhook)
	// Reports (api/reports.go). Reading a report, its runs and files, and previewing one is
	// data:read; the rest is reports:manage. Creating one is GateCreate (it may add a
	// scheduled report, which the plan counts) and so is running one (it renders and mails
	// files), downloads are GateRead, deleting one gives something up (GateReduce).
	readReports := Policy{Access: Scoped, Action: auth.ReadData}
	manageReports := Policy{Access: Scoped, Action: auth.ManageReports}
	s.handle(v1, "POST", "/reports", Policy{Access: Scoped, Action: auth.ManageReports, Gate: billing.GateCreate}, s.createReport)
	s.handle(v1, "GET", "/reports", readReports, s.listReports)
	s.handle(v1, "POST", "/reports/preview", readReports, s.analyticsSlot(s.previewReport))
	s.handle(v1, "GET", "/reports/:id", readReports, s.getReport)
	s.handle(v1, "PUT", "/reports/:id", manageReports, s.updateReport)
	s.handle(v1, "DELETE", "/reports/:id", Policy{Access: Scoped, Action: auth.ManageReports, Gate: billing.GateReduce}, s.deleteReport)
	s.handle(v1, "POST", "/reports/:id/pause", Policy{Access: Scoped, Action: auth.ManageReports, Gate: billing.GateReduce}, s.pauseReport)
	s.handle(v1, "POST", "/reports/:id/resume", manageReports, s.resumeReport)
	s.handle(v1, "POST", "/reports/:id/run", Policy{Access: Scoped, Action: auth.ManageReports, Gate: billing.GateCreate}, s.runReport)
	s.handle(v1, "POST", "/reports/:id/webhook-secret", manageReports, s.rotateWebhookSecret)
	s.handle(v1, "GET", "/reports/:id/runs", readReports, s.listReportRuns)
	s.handle(v1, "GET", "/reports/:id/runs/:run", readReports, s.getReportRun)
	s.handle(v1, "GET", "/reports/:id/runs/:run/download", readReports, s.downloadReportRun)
	return &Router{Engine: r, policies: s.policies, slots: s.slots}
}
