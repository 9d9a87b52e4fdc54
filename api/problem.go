package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Problem is an RFC 7807 problem detail, the body of every error response.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Instance is the request path the problem occurred on.
	Instance string `json:"instance,omitempty"`
	// Errors lists the invalid fields of a validation problem.
	Errors []FieldError `json:"errors,omitempty"`
	// Checks reports each dependency of a readiness problem: "ok" or "down".
	Checks map[string]string `json:"checks,omitempty"`
	// WorkflowID names the running workflow a conflict is with.
	WorkflowID string `json:"workflow_id,omitempty"`
	// DunningState is the workspace's standing (restricted, suspended) on a
	// payment-required problem.
	DunningState string `json:"dunning_state,omitempty"`
	// Limit, Plan, LimitValue, Usage and UpgradeTo describe a plan-limit problem: the
	// billing.Limit reached, the workspace's plan and its value of the limit, what the
	// workspace uses of it (counted limits only) and the cheapest plan that allows the
	// request (absent when no plan does).
	Limit      string `json:"limit,omitempty"`
	Plan       string `json:"plan,omitempty"`
	LimitValue string `json:"limit_value,omitempty"`
	Usage      *int   `json:"usage,omitempty"`
	UpgradeTo  string `json:"upgrade_to,omitempty"`
}

// FieldError is one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem types. They are relative URIs that name the kind of problem for clients to
// switch on; the title says the same for people.
const (
	typeValidation        = "/problems/validation-error"
	typeMalformed         = "/problems/malformed-request"
	typeTooLarge          = "/problems/request-too-large"
	typeUnauthorized      = "/problems/unauthorized"
	typeForbidden         = "/problems/forbidden"
	typeWorkspaceRequired = "/problems/workspace-required"
	typeRateLimited       = "/problems/rate-limited"
	typeNotFound          = "/problems/not-found"
	typeMethod            = "/problems/method-not-allowed"
	typeConflict          = "/problems/conflict"
	typeNeedsReauth       = "/problems/connection-needs-reauth"
	typeNotSupported      = "/problems/channel-not-supported"
	typeProviderReject    = "/problems/provider-rejected"
	typeMissingScope      = "/problems/missing-scope"
	typeUnavailable       = "/problems/service-unavailable"
	typeNotReady          = "/problems/not-ready"
	typeInternal          = "/problems/internal-error"
	// typeTimeout: the request or one of its queries ran past its deadline (504).
	typeTimeout = "/problems/timeout"
	// typePaymentRequired: the workspace is restricted or suspended for an unpaid invoice.
	typePaymentRequired = "/problems/payment-required"
	// typePlanLimit: the request would take the workspace past a limit of its plan.
	typePlanLimit = "/problems/plan-limit"
)

const problemContentType = "application/problem+json"

// writeProblem aborts the request with p as its body.
func writeProblem(c *gin.Context, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Instance == "" {
		p.Instance = c.Request.URL.Path
	}
	c.Abort()
	// gin's c.JSON would set application/json; problem+json needs its own header.
	c.Header("Content-Type", problemContentType)
	c.JSON(p.Status, p)
}

func notFound(c *gin.Context, what string) {
	writeProblem(c, Problem{Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound,
		Detail: what + " not found"})
}

func validationProblem(c *gin.Context, errs []FieldError) {
	writeProblem(c, Problem{Type: typeValidation, Title: "Invalid request", Status: http.StatusUnprocessableEntity,
		Detail: "the request has invalid fields; see errors", Errors: errs})
}

func malformed(c *gin.Context, detail string) {
	writeProblem(c, Problem{Type: typeMalformed, Title: "Malformed request", Status: http.StatusBadRequest, Detail: detail})
}

// unavailable reports a dependency failure and logs its cause, which may name internal
// hosts and so is not shown to the client. A deadline or statement timeout is a 504
// timeout problem instead.
func (s *server) unavailable(c *gin.Context, what string, err error) {
	if isTimeout(err) {
		s.timedOut(c, err)
		return
	}
	s.log.ErrorContext(c.Request.Context(), what+" failed", "path", c.Request.URL.Path, "err", err)
	c.Header("Retry-After", "5")
	writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: what + " is unavailable; retry shortly"})
}

// internal reports a bug-shaped failure; the cause goes to the log only.
func (s *server) internal(c *gin.Context, what string, err error) {
	if isTimeout(err) {
		s.timedOut(c, err)
		return
	}
	s.log.ErrorContext(c.Request.Context(), what+" failed", "path", c.Request.URL.Path, "err", err)
	writeProblem(c, Problem{Type: typeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "an internal error occurred"})
}
