// Package keys is the `omnitrackiq keys` command: `keys rotate` re-seals every connection
// token under the current ENCRYPTION_KEY, so an old key can then be retired.
package keys

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

const usage = `usage: omnitrackiq keys rotate [--batch N]

Re-seals every connection's access and refresh token under the current key
(ENCRYPTION_KEY, named ENCRYPTION_KEY_ID). Keys that sealed existing tokens must be
listed in ENCRYPTION_OLD_KEYS ("id:key,id:key") while this runs. Safe to interrupt and
run again: rows already under the current key are skipped.
`

// Run runs the keys command with its arguments (after "keys"); it returns the exit code.
func Run(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	batch := fs.Int("batch", 100, "connections listed per batch (each row is re-sealed in its own transaction)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *batch < 1 || fs.NArg() > 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	box, err := secretbox.ParseKeyring(cfg.EncryptionKeyID, cfg.EncryptionKey, cfg.EncryptionOldKeys)
	if err != nil {
		fmt.Fprintln(stderr, "keys rotate:", err)
		return 2
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintln(stderr, "keys rotate:", err)
		return 1
	}
	defer st.Close()
	counts, err := Rotate(ctx, st, box, *batch, stderr)
	fmt.Fprintf(stdout, "keys rotate: current key %q: %d connections re-sealed, %d already under it, %d without tokens, %d failed\n",
		box.KeyID(), counts.Resealed, counts.AlreadyCurrent, counts.Empty, counts.Failed)
	if err != nil {
		fmt.Fprintln(stderr, "keys rotate:", err)
		return 1
	}
	if counts.Failed > 0 {
		fmt.Fprintln(stderr, "keys rotate: some tokens could not be opened with the configured keys; add their key to ENCRYPTION_OLD_KEYS and run again")
		return 1
	}
	return 0
}

// Counts is what Rotate did.
type Counts struct {
	// Resealed rows had a token under another key (or no recorded key) and now are under the current one.
	Resealed int
	// AlreadyCurrent rows were sealed under the current key but not recorded so; only the record changed.
	AlreadyCurrent int
	// Empty rows (disconnected) have no token; only the record changed.
	Empty int
	// Failed rows hold a token that no configured key opens; they are left as they are.
	Failed int
}

// Rotate re-seals every connection whose tokens are not recorded as under box's current
// key. It pages by id, so rows that fail are not retried in the same run, and each row is
// re-sealed in its own transaction holding the row, so a concurrent refresh or disconnect
// is never overwritten with an older token. Failures are reported on log (ids, never tokens).
func Rotate(ctx context.Context, st *store.Store, box *secretbox.Box, batch int, log io.Writer) (Counts, error) {
	var c Counts
	after := ""
	for {
		ids, err := st.ConnectionsToReseal(ctx, box.KeyID(), after, batch)
		if err != nil {
			return c, err
		}
		for _, id := range ids {
			var kind outcome
			done, err := st.ResealConnection(ctx, id, box.KeyID(), func(conn store.Connection) ([]byte, []byte, error) {
				tok, refresh, k, err := reseal(box, conn)
				kind = k
				return tok, refresh, err
			})
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				return c, err
			case err != nil:
				c.Failed++
				fmt.Fprintf(log, "keys rotate: connection %s: %v\n", id, err)
			case !done:
				// Re-sealed by a concurrent run since it was listed.
			case kind == outcomeEmpty:
				c.Empty++
			case kind == outcomeCurrent:
				c.AlreadyCurrent++
			default:
				c.Resealed++
			}
		}
		if len(ids) < batch {
			return c, nil
		}
		after = ids[len(ids)-1]
	}
}

type outcome int

const (
	outcomeResealed outcome = iota
	outcomeCurrent
	outcomeEmpty
)

// reseal returns the connection's tokens under the current key. Values already under it
// are kept as they are.
func reseal(box *secretbox.Box, conn store.Connection) (tok, refresh []byte, kind outcome, err error) {
	if len(conn.TokenCiphertext) == 0 && len(conn.RefreshTokenCiphertext) == 0 {
		return conn.TokenCiphertext, conn.RefreshTokenCiphertext, outcomeEmpty, nil
	}
	kind = outcomeCurrent
	one := func(sealed, aad []byte, what string) ([]byte, error) {
		if len(sealed) == 0 || box.SealedKeyID(sealed) == box.KeyID() {
			return sealed, nil
		}
		plain, err := box.Open(sealed, aad)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		kind = outcomeResealed
		return box.Seal(plain, aad)
	}
	if tok, err = one(conn.TokenCiphertext, secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID), "access token"); err != nil {
		return nil, nil, kind, err
	}
	if refresh, err = one(conn.RefreshTokenCiphertext, secretbox.ConnectionRefreshTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID), "refresh token"); err != nil {
		return nil, nil, kind, err
	}
	return tok, refresh, kind, nil
}
