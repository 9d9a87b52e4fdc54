package kit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBodyBytes bounds an admin request body: admin calls are small, and a sandbox must not
// read an endless body.
const MaxBodyBytes = 1 << 20

// DecodeStrict decodes one JSON value from r into v, rejecting unknown fields so that a
// misspelt fault or restatement key fails loudly instead of being ignored.
func DecodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, MaxBodyBytes))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// WriteJSON answers an admin call with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers an admin call with {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// PatchValue sets *dst to *src when the patch has the key (src is not nil). It serves the
// scalar keys of a fault patch, decoded into pointers so that absent keys keep their value.
func PatchValue[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// PatchPointer applies one object-valued key of a fault patch to *dst: absent (raw empty)
// keeps it, null clears it, and an object replaces it, decoded strictly. Errors are prefixed
// with name.
//
// raw must be a json.RawMessage field, not a *json.RawMessage: encoding/json sets a pointer
// to nil for a JSON null, so null would read as "absent" and leave the fault armed, while a
// RawMessage value receives the text "null" itself.
func PatchPointer[T any](dst **T, name string, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if string(raw) == "null" {
		*dst = nil
		return nil
	}
	v := new(T)
	if err := DecodeStrict(strings.NewReader(string(raw)), v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	*dst = v
	return nil
}
