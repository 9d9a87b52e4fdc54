package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

var (
	oldKey = bytes.Repeat([]byte{0x11}, 32)
	newKey = bytes.Repeat([]byte{0x22}, 32)
)

// legacySeal is a token as sealed before key ids existed: nonce | ciphertext.
func legacySeal(t *testing.T, key, plaintext, aad []byte) []byte {
	t.Helper()
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := bytes.Repeat([]byte{5}, aead.NonceSize())
	return aead.Seal(append([]byte{}, nonce...), nonce, plaintext, aad)
}

type seeded struct {
	conn           store.Connection
	token, refresh string
}

func seed(t *testing.T, st *store.Store, ws string) []seeded {
	t.Helper()
	ctx := context.Background()
	old, err := secretbox.NewKeyring(secretbox.Key{ID: "k1", Secret: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	var out []seeded
	for i, c := range []struct {
		channel, account, token, refresh string
		legacy                           bool
	}{
		{"meta", "1", "meta-token-1", "", false},
		{"meta", "2", "meta-token-2", "", true},
		{"google_ads", "3", "ga-access-3", "ga-refresh-3", false},
		{"shopify", "s4.myshopify.com", "shpat-4", "shprt-4", true},
		{"tiktok", "5", "tt-5", "", false},
	} {
		aad := secretbox.ConnectionTokenAAD(ws, c.channel, c.account)
		raad := secretbox.ConnectionRefreshTokenAAD(ws, c.channel, c.account)
		var tok, ref []byte
		if c.legacy {
			tok = legacySeal(t, oldKey, []byte(c.token), aad)
			if c.refresh != "" {
				ref = legacySeal(t, oldKey, []byte(c.refresh), raad)
			}
		} else {
			tok, _ = old.Seal([]byte(c.token), aad)
			if c.refresh != "" {
				ref, _ = old.Seal([]byte(c.refresh), raad)
			}
		}
		keyID := "k1"
		if c.legacy {
			keyID = ""
		}
		conn, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: ws, Channel: c.channel,
			ExternalAccountID: c.account, TokenCiphertext: tok, RefreshTokenCiphertext: ref, TokenKeyID: keyID,
			Timezone: "UTC", Currency: "USD", DisplayName: "c" + string(rune('0'+i))})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seeded{conn, c.token, c.refresh})
	}
	return out
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	conns := seed(t, st, ws.ID)
	// A disconnected connection has no token left to re-seal.
	gone, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: ws.ID, Channel: "meta", ExternalAccountID: "9",
		TokenCiphertext: []byte{}, Timezone: "UTC", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Config{DatabaseURL: dbURL, EncryptionKeyID: "k2", EncryptionKey: hex.EncodeToString(newKey),
		EncryptionOldKeys: "k1:" + hex.EncodeToString(oldKey)}
	var out, errOut bytes.Buffer
	// A batch of 2 makes the run page through several batches.
	if code := Run(ctx, cfg, []string{"rotate", "--batch", "2"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "5 connections re-sealed, 0 already under it, 1 without tokens, 0 failed") {
		t.Fatalf("output %q", out.String())
	}

	onlyNew, err := secretbox.NewKeyring(secretbox.Key{ID: "k2", Secret: newKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range conns {
		c, err := st.GetConnection(ctx, ws.ID, s.conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.TokenKeyID != "k2" || secretbox.SealedKeyID(c.TokenCiphertext) != "k2" {
			t.Errorf("%s: key id %q / sealed %q", c.ExternalAccountID, c.TokenKeyID, secretbox.SealedKeyID(c.TokenCiphertext))
		}
		got, err := onlyNew.Open(c.TokenCiphertext, secretbox.ConnectionTokenAAD(ws.ID, c.Channel, c.ExternalAccountID))
		if err != nil || string(got) != s.token {
			t.Errorf("%s: access token with the new key only: %q, %v", c.ExternalAccountID, got, err)
		}
		if s.refresh == "" {
			if c.RefreshTokenCiphertext != nil {
				t.Errorf("%s: a refresh token appeared", c.ExternalAccountID)
			}
			continue
		}
		got, err = onlyNew.Open(c.RefreshTokenCiphertext, secretbox.ConnectionRefreshTokenAAD(ws.ID, c.Channel, c.ExternalAccountID))
		if err != nil || string(got) != s.refresh {
			t.Errorf("%s: refresh token with the new key only: %q, %v", c.ExternalAccountID, got, err)
		}
	}
	if c, _ := st.GetConnection(ctx, ws.ID, gone.ID); c.TokenKeyID != "k2" || len(c.TokenCiphertext) != 0 {
		t.Errorf("disconnected connection: key %q, token %d bytes", c.TokenKeyID, len(c.TokenCiphertext))
	}

	// Again: nothing to do.
	out.Reset()
	if code := Run(ctx, cfg, []string{"rotate"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), " 0 connections re-sealed, 0 already under it, 0 without tokens, 0 failed") {
		t.Fatalf("second run: exit %d, %q", code, out.String())
	}
}

func TestRotateWithoutTheOldKey(t *testing.T) {
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	conns := seed(t, st, ws.ID)
	cfg := config.Config{DatabaseURL: dbURL, EncryptionKeyID: "k2", EncryptionKey: hex.EncodeToString(newKey)}
	var out, errOut bytes.Buffer
	if code := Run(ctx, cfg, []string{"rotate"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "0 connections re-sealed, 0 already under it, 0 without tokens, 5 failed") {
		t.Fatalf("output %q", out.String())
	}
	for _, s := range conns {
		c, _ := st.GetConnection(ctx, ws.ID, s.conn.ID)
		if !bytes.Equal(c.TokenCiphertext, s.conn.TokenCiphertext) || c.TokenKeyID != s.conn.TokenKeyID {
			t.Errorf("%s changed though it could not be opened", c.ExternalAccountID)
		}
		if strings.Contains(errOut.String(), s.token) {
			t.Fatal("a token appears in the output")
		}
	}
	if !strings.Contains(errOut.String(), `"k1"`) {
		t.Errorf("the error does not name the missing key: %s", errOut.String())
	}
}

func TestRunBadArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"spin"}, {"rotate", "--batch", "0"}, {"rotate", "extra"}} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), config.Config{}, args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	var out, errOut bytes.Buffer
	cfg := config.Config{EncryptionKeyID: "k2", EncryptionKey: "short"}
	if code := Run(context.Background(), cfg, []string{"rotate"}, &out, &errOut); code != 2 || strings.Contains(errOut.String(), "short") {
		t.Errorf("bad key: exit %d, %q", code, errOut.String())
	}
}
