package config

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaults(t *testing.T) {
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := Database{MaxConns: DefaultMaxConns(), ControlConns: 4, StatementTimeout: 15 * time.Second}
	if c.DB != want {
		t.Errorf("DB %+v, want %+v", c.DB, want)
	}
	if DefaultMaxConns() < 8 {
		t.Errorf("DefaultMaxConns %d", DefaultMaxConns())
	}
	if got := c.API; got != DefaultAPILimits(c.DB.MaxConns) {
		t.Errorf("API %+v", got)
	}
	if c.API.AnalyticsPerReplica != c.DB.MaxConns/2 {
		t.Errorf("analytics per replica %d with %d connections", c.API.AnalyticsPerReplica, c.DB.MaxConns)
	}
}

func TestLimitsFromEnv(t *testing.T) {
	for k, v := range map[string]string{
		"DB_MAX_CONNS": "20", "DB_MIN_CONNS": "2", "DB_CONTROL_CONNS": "0", "DB_STATEMENT_TIMEOUT": "0s",
		"API_TIMEOUT_HEALTH": "1s", "API_TIMEOUT_AUTH": "5s", "API_TIMEOUT_ANALYTICS": "20s", "API_TIMEOUT_DEFAULT": "1m",
		"API_RATE_WINDOW": "10s", "API_RATE_PER_KEY": "50", "API_RATE_PER_IP": "70",
		"API_ANALYTICS_CONCURRENCY_PER_WORKSPACE": "3", "API_ANALYTICS_CONCURRENCY": "12",
	} {
		t.Setenv(k, v)
	}
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Database{MaxConns: 20, MinConns: 2}); c.DB != want {
		t.Errorf("DB %+v", c.DB)
	}
	want := APILimits{
		HealthTimeout: time.Second, AuthTimeout: 5 * time.Second, AnalyticsTimeout: 20 * time.Second, DefaultTimeout: time.Minute,
		PerKey: Limit{50, 10 * time.Second}, PerIP: Limit{70, 10 * time.Second},
		AnalyticsPerWorkspace: 3, AnalyticsPerReplica: 12,
	}
	if c.API != want {
		t.Errorf("API %+v, want %+v", c.API, want)
	}
}

func TestLimitsInvalid(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DB_MAX_CONNS": "1"}, "DB_MAX_CONNS must be an integer from 2 to 1000"},
		{map[string]string{"DB_MAX_CONNS": "many"}, "DB_MAX_CONNS must be an integer"},
		{map[string]string{"DB_MAX_CONNS": "8", "DB_MIN_CONNS": "9"}, "DB_MIN_CONNS must not exceed DB_MAX_CONNS"},
		{map[string]string{"DB_STATEMENT_TIMEOUT": "15"}, "DB_STATEMENT_TIMEOUT must be a duration"},
		{map[string]string{"DB_STATEMENT_TIMEOUT": "-1s"}, "DB_STATEMENT_TIMEOUT must be a duration"},
		{map[string]string{"API_TIMEOUT_ANALYTICS": "1ms"}, "API_TIMEOUT_ANALYTICS must be a duration from 1s"},
		{map[string]string{"API_RATE_PER_KEY": "0"}, "API_RATE_PER_KEY must be an integer from 1"},
		{map[string]string{"API_RATE_WINDOW": "2h"}, "API_RATE_WINDOW must be a duration"},
		{map[string]string{"DB_MAX_CONNS": "8", "API_ANALYTICS_CONCURRENCY": "8"}, "API_ANALYTICS_CONCURRENCY must be below DB_MAX_CONNS"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestAPILimitsWithDefaults(t *testing.T) {
	got := APILimits{AnalyticsTimeout: time.Second, PerKey: Limit{Max: 5}}.WithDefaults()
	d := DefaultAPILimits(DefaultMaxConns())
	if got.AnalyticsTimeout != time.Second || got.PerKey != d.PerKey || got.HealthTimeout != d.HealthTimeout ||
		got.AnalyticsPerReplica != d.AnalyticsPerReplica {
		t.Errorf("WithDefaults %+v", got)
	}
}
