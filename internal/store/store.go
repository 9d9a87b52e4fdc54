// Package store is the PostgreSQL data access layer. Every method that reads or writes
// business rows takes the caller's workspace id and filters by it.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a row does not exist in the caller's workspace.
var ErrNotFound = errors.New("not found")

// Store wraps a connection pool, and optionally a second, small one for the queries that
// must answer while the first is busy.
type Store struct {
	Pool *pgxpool.Pool
	// control serves health checks, authentication and rate limits (see PoolOptions);
	// nil means Pool serves them too.
	control *pgxpool.Pool
}

// PoolOptions size the pools and bound their statements. Zero fields keep pgx's defaults.
type PoolOptions struct {
	// MaxConns and MinConns size the main pool.
	MaxConns, MinConns int32
	// ControlConns, when positive, gives health checks, authentication and rate limits a
	// pool of their own of this size, so a burst of slow analytics queries holding every
	// connection of the main pool cannot make /readyz fail or sign-ins time out.
	ControlConns int32
	// StatementTimeout is PostgreSQL's statement_timeout on every connection of both pools:
	// whatever happens to the client, the server gives up on a query after it.
	StatementTimeout time.Duration
}

// Open connects to databaseURL with pgx's default pool and checks the connection.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenWith(ctx, databaseURL, PoolOptions{})
}

// OpenWith connects to databaseURL with the pools o describes and checks the connection.
func OpenWith(ctx context.Context, databaseURL string, o PoolOptions) (*Store, error) {
	if o.MaxConns < 0 || o.MinConns < 0 || o.ControlConns < 0 || o.StatementTimeout < 0 {
		return nil, fmt.Errorf("open database pool: negative pool option %+v", o)
	}
	if o.MaxConns > 0 && o.MinConns > o.MaxConns {
		return nil, fmt.Errorf("open database pool: %d minimum connections exceed the maximum of %d", o.MinConns, o.MaxConns)
	}
	main, err := openPool(ctx, databaseURL, o.MaxConns, o.MinConns, o.StatementTimeout)
	if err != nil {
		return nil, err
	}
	s := &Store{Pool: main}
	if o.ControlConns > 0 {
		if s.control, err = openPool(ctx, databaseURL, o.ControlConns, 1, o.StatementTimeout); err != nil {
			main.Close()
			return nil, err
		}
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return s, nil
}

func openPool(ctx context.Context, databaseURL string, maxConns, minConns int32, statementTimeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if minConns > 0 {
		cfg.MinConns = minConns
	}
	if statementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(statementTimeout.Milliseconds(), 10)
	}
	// pgx's default answer to a cancelled context is to drop the socket, which leaves the
	// server running the query until it next writes to the client. A cancel request stops
	// the query at once; the deadline closes the socket if the server does not answer it.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// ctl is the pool of health checks, authentication and rate limits.
func (s *Store) ctl() *pgxpool.Pool {
	if s.control != nil {
		return s.control
	}
	return s.Pool
}

// Close releases the pools.
func (s *Store) Close() {
	s.Pool.Close()
	if s.control != nil {
		s.control.Close()
	}
}

// Ping checks that the database answers, on the control pool, so a main pool busy with
// slow queries does not read as a database that is down.
func (s *Store) Ping(ctx context.Context) error { return s.ctl().Ping(ctx) }

// PoolStats are the sizes and use of the pools, for logs and tests.
type PoolStats struct {
	MainMax, MainInUse, ControlMax, ControlInUse int32
}

// Stats reports the pools' sizes and how many connections are in use.
func (s *Store) Stats() PoolStats {
	m, c := s.Pool.Stat(), s.ctl().Stat()
	return PoolStats{MainMax: m.MaxConns(), MainInUse: m.AcquiredConns(), ControlMax: c.MaxConns(), ControlInUse: c.AcquiredConns()}
}

// InTx runs fn in a transaction, committing if it returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}
