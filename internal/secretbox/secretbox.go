// Package secretbox encrypts provider tokens at rest with AES-256-GCM.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Box seals and opens small secrets with one 32-byte key.
type Box struct {
	aead cipher.AEAD
}

// ParseKey accepts a 32-byte key as 64 hex characters or standard/URL base64.
func ParseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("ENCRYPTION_KEY is empty: set it to 32 random bytes, hex or base64 (openssl rand -hex 32)")
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64")
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; additional data binds the ciphertext to its owner (a connection
// id, say) so a ciphertext copied to another row does not open.
func (b *Box) Seal(plaintext, additional []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, plaintext, additional), nil
}

// Open decrypts what Seal produced with the same additional data.
func (b *Box) Open(sealed, additional []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("open secret: ciphertext too short")
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, errors.New("open secret: wrong key or tampered ciphertext")
	}
	return out, nil
}

// ConnectionTokenAAD is the additional data that binds a connection's sealed access token
// to its workspace, channel and account.
func ConnectionTokenAAD(workspaceID, channel, accountID string) []byte {
	return []byte(workspaceID + ":" + channel + ":" + accountID)
}

// ConnectionRefreshTokenAAD binds a connection's sealed OAuth refresh token the same way,
// but differently from its access token, so the two ciphertexts cannot be swapped.
func ConnectionRefreshTokenAAD(workspaceID, channel, accountID string) []byte {
	return []byte(workspaceID + ":" + channel + ":" + accountID + ":refresh")
}
