package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

// ScheduleUpdateRequest is the body of PATCH /v1/connections/{id}/schedule; absent
// fields are left as they are.
type ScheduleUpdateRequest struct {
	Cron     *string `json:"cron"`
	Timezone *string `json:"timezone"`
	Paused   *bool   `json:"paused"`
}

func (s *server) getSchedule(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	sch, err := s.Syncs.GetSchedule(c.Request.Context(), conn)
	if err != nil {
		s.syncsProblem(c, "schedule of connection "+conn.ID, "schedule", err)
		return
	}
	c.JSON(http.StatusOK, sch)
}

func (s *server) updateSchedule(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok {
		return
	}
	var req ScheduleUpdateRequest
	if !decodeJSON(c, &req) {
		return
	}
	if errs := validateScheduleUpdate(req); len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	// The plan's interval (billing on) answers first: it names the plan that allows more.
	// Every plan's is at least the floor, so the floor speaks only where billing is off.
	if req.Cron != nil && !s.checkSyncInterval(c, *req.Cron) {
		return
	}
	if req.Cron != nil {
		if msg := checkScheduleInterval(*req.Cron); msg != "" {
			validationProblem(c, []FieldError{{"cron", msg}})
			return
		}
	}
	field := "schedule"
	switch {
	case req.Cron != nil && req.Timezone == nil:
		field = "cron"
	case req.Timezone != nil && req.Cron == nil:
		field = "timezone"
	}
	sch, err := s.Syncs.UpdateSchedule(c.Request.Context(), conn, syncsvc.ScheduleUpdate{
		Cron: req.Cron, Timezone: req.Timezone, Paused: req.Paused,
	})
	if err != nil {
		s.syncsProblem(c, "schedule of connection "+conn.ID, field, err)
		return
	}
	c.JSON(http.StatusOK, sch)
}

func (s *server) triggerSchedule(c *gin.Context) {
	conn, ok := s.loadConnection(c)
	if !ok || !requireUsable(c, conn) {
		return
	}
	if err := s.Syncs.TriggerSchedule(c.Request.Context(), conn); err != nil {
		s.syncsProblem(c, "schedule of connection "+conn.ID, "schedule", err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "triggered"})
}

// validateScheduleUpdate checks what can be checked without Temporal; Temporal's own
// parser is the final word on the cron expression.
func validateScheduleUpdate(req ScheduleUpdateRequest) []FieldError {
	var errs []FieldError
	if req.Cron == nil && req.Timezone == nil && req.Paused == nil {
		return []FieldError{{"", "give at least one of cron, timezone, paused"}}
	}
	if req.Cron != nil {
		if msg := checkCron(*req.Cron); msg != "" {
			errs = append(errs, FieldError{"cron", msg})
		}
	}
	if req.Timezone != nil {
		tz := *req.Timezone
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
			errs = append(errs, FieldError{"timezone", fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris", tz)})
		}
	}
	return errs
}

// checkScheduleInterval refuses a cron that fires more often than
// syncsvc.MinScheduleInterval, the floor under every plan's interval.
func checkScheduleInterval(expr string) string {
	gap, err := billing.CronMinInterval(expr)
	if err != nil {
		return err.Error()
	}
	if gap < syncsvc.MinScheduleInterval {
		return fmt.Sprintf("fires every %s at the shortest; schedules may fire at most every %s (e.g. \"*/15 * * * *\")",
			shortDuration(gap), shortDuration(syncsvc.MinScheduleInterval))
	}
	return ""
}

// checkCron accepts five space-separated cron fields made of the characters cron uses.
func checkCron(expr string) string {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Sprintf("must have 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	for _, f := range fields {
		for _, r := range f {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || strings.ContainsRune("*/,-?", r)) {
				return fmt.Sprintf("field %q has an unexpected character %q", f, r)
			}
		}
	}
	return ""
}
