// Package apikey makes and checks API keys. A key is "otq_" followed by 32 random bytes in
// unpadded base64url; only its SHA-256 is stored, and its first characters are kept as a
// visible prefix so people can tell keys apart without the secret.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Scheme starts every key, so a leaked key is recognisable by secret scanners.
const Scheme = "otq_"

// PrefixLen is how many leading characters of a key are stored and shown.
const PrefixLen = 12

const randomBytes = 32

// keyLen is the length of a well-formed key: the scheme and 43 base64url characters.
var keyLen = len(Scheme) + base64.RawURLEncoding.EncodedLen(randomBytes)

// Key is a newly generated key. Secret is shown to its owner once and never stored.
type Key struct {
	Secret string
	Prefix string
	Hash   []byte
}

// Generate makes a new random key.
func Generate() (Key, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("generate api key: %w", err)
	}
	secret := Scheme + base64.RawURLEncoding.EncodeToString(b)
	return Key{Secret: secret, Prefix: secret[:PrefixLen], Hash: Hash(secret)}, nil
}

// Hash is the stored form of a key.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// WellFormed reports whether s has the shape of a key. It lets the API reject garbage
// without a database lookup; it says nothing about whether the key exists.
func WellFormed(s string) bool {
	if len(s) != keyLen || s[:len(Scheme)] != Scheme {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(Scheme):])
	return err == nil
}

// Issue generates a write-scoped key for the workspace and stores its hash. It returns the
// secret, which cannot be recovered later.
func Issue(ctx context.Context, st *store.Store, workspaceID, name string) (string, store.APIKey, error) {
	return IssueWith(ctx, st, workspaceID, name, Options{})
}

// Options are the optional attributes of a new key.
type Options struct {
	// Scope is "read" or "write" (auth.ScopeRead, auth.ScopeWrite); "" is "write".
	Scope string
	// CreatedBy is the id of the user who created the key; "" for the seed and the CLI.
	CreatedBy string
}

// IssueWith is Issue with a scope and a creator.
func IssueWith(ctx context.Context, st *store.Store, workspaceID, name string, o Options) (string, store.APIKey, error) {
	k, err := Generate()
	if err != nil {
		return "", store.APIKey{}, err
	}
	rec, err := st.CreateScopedAPIKey(ctx, store.NewAPIKey{
		WorkspaceID: workspaceID, Name: name, Prefix: k.Prefix, Scope: o.Scope, CreatedBy: o.CreatedBy, Hash: k.Hash,
	})
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("issue api key for workspace %s: %w", workspaceID, err)
	}
	return k.Secret, rec, nil
}
