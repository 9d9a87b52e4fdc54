package devstack

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// EnvAllowRemoteDatabase lets `omnitrackiq dev` use a database on another machine.
const EnvAllowRemoteDatabase = "DEV_ALLOW_REMOTE_DATABASE"

// checkDatabaseGuard refuses a DATABASE_URL that is not on this machine unless
// Options.AllowRemoteDatabase or DEV_ALLOW_REMOTE_DATABASE=true allows it. The dev stack
// seeds an API key derived from a published string (DemoAPIKey) and a demo owner: in a
// shared or production database that key would let anyone who has read this code read the
// demo workspace and run its syncs, and the migrations and demo backfills would run there.
func checkDatabaseGuard(o Options, databaseURL string) error {
	allow := o.AllowRemoteDatabase
	if v := os.Getenv(EnvAllowRemoteDatabase); !allow && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: want true or false", EnvAllowRemoteDatabase, v)
		}
		allow = b
	}
	if allow {
		return nil
	}
	return CheckLocalDatabase(databaseURL)
}

// CheckLocalDatabase returns nil when every host databaseURL connects to is this machine:
// localhost, a loopback address, or a Unix socket directory. It reads the URL the way the
// database driver does, PG* environment variables included, so the host checked is the host
// connected to. Names are not resolved: a name other than localhost is remote even if it
// resolves to this machine (DEV_ALLOW_REMOTE_DATABASE=true covers that).
func CheckLocalDatabase(databaseURL string) error {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if !localHost(h) {
			return fmt.Errorf("omnitrackiq dev refuses DATABASE_URL host %q: it is not this machine, and dev seeds a demo "+
				"workspace whose API key (printed in the banner) is derived from a string published in the source, plus a "+
				"demo owner. Use a local PostgreSQL (localhost, 127.0.0.1 or a Unix socket), or set %s=true if %q is a "+
				"disposable database of your own", h, EnvAllowRemoteDatabase, h)
		}
	}
	return nil
}

func localHost(h string) bool {
	if strings.HasPrefix(h, "/") {
		return true // a Unix socket directory
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
