// Package cursorx encodes and checks the opaque read cursors of the connectors. Each
// connector keeps its own cursor struct, whose JSON is what the database and the heartbeats
// hold; this package only carries the steps they all take around it.
package cursorx

import (
	"encoding/json"
	"fmt"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Encode is the JSON of a cursor state. The states are plain structs of strings and
// numbers, which always marshal.
func Encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Decode parses a cursor s into a T and checks it with valid. A cursor that does not
// parse or is not valid is a KindBadRequest error of ch: "invalid {name} cursor ...".
func Decode[T any](ch channels.Channel, name, s string, valid func(T) bool) (T, error) {
	var c T
	if err := json.Unmarshal([]byte(s), &c); err != nil || !valid(c) {
		var zero T
		return zero, &channels.Error{Channel: ch, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("invalid %s cursor %q", name, s)}
	}
	return c, nil
}

// Fingerprint identifies a read (level and window) so that a cursor is never resumed
// with another request.
func Fingerprint(level channels.Level, w channels.Window) string {
	return fmt.Sprintf("%s:%s", level, w.String())
}

// Mismatch is the error of a cursor whose fingerprint got is not the request's want.
func Mismatch(ch channels.Channel, got, want string) error {
	return &channels.Error{Channel: ch, Kind: channels.KindBadRequest,
		Message: fmt.Sprintf("cursor belongs to another read (%s), not %s", got, want)}
}
