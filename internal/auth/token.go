package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Opaque secrets handed to people (refresh, reset and invite tokens) are 32 random bytes in
// unpadded base64url behind a prefix that says what they are. Only their SHA-256 is stored.
const (
	RefreshPrefix = "otr_"
	ResetPrefix   = "otp_"
	InvitePrefix  = "oti_"
)

// NewOpaque returns a new secret with the prefix and its stored hash.
func NewOpaque(prefix string) (secret string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashOpaque(secret), nil
}

// HashOpaque is the stored form of an opaque secret.
func HashOpaque(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// OpaqueWellFormed reports whether s looks like a secret with the prefix, so garbage is
// refused without a database lookup.
func OpaqueWellFormed(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil
}
