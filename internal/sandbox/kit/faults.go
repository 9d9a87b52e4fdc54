package kit

import (
	"net/http"
	"sync"
)

// ServeFaults serves the faults admin endpoint of a sandbox whose faults are F and whose
// POST body is the patch P (keys present replace, keys absent keep):
//
//	GET    the armed faults
//	POST   merge the patch, answer the faults now armed
//	DELETE clear every fault, answer the zero F
//
// The sandbox keeps its faults under its own lock, next to the counters they run down, so
// it passes its accessors rather than handing the faults to kit.
func ServeFaults[F, P any](w http.ResponseWriter, r *http.Request, get func() F, patch func(P) (F, error), clear func()) {
	switch r.Method {
	case http.MethodGet:
		WriteJSON(w, http.StatusOK, get())
	case http.MethodPost:
		var p P
		if err := DecodeStrict(r.Body, &p); err != nil {
			WriteError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		f, err := patch(p)
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, f)
	case http.MethodDelete:
		clear()
		var zero F
		WriteJSON(w, http.StatusOK, zero)
	default:
		WriteError(w, http.StatusMethodNotAllowed, r.Method+" is not GET, POST or DELETE")
	}
}

// FaultSwitch arms, patches and clears a sandbox's faults F. The faults stay a field of
// the sandbox, guarded by the sandbox's own lock, because its request paths run fault
// counters down together with other state under that lock; the switch only takes the
// same lock for the admin operations every sandbox shares.
type FaultSwitch[F any] struct {
	mu    *sync.Mutex
	armed *F
	// clone deep-copies F, so a caller never shares pointers with the armed faults.
	clone func(F) F
	// validate checks F and fills its defaults.
	validate func(*F) error
}

// NewFaultSwitch returns the switch of the faults at armed, guarded by mu.
func NewFaultSwitch[F any](mu *sync.Mutex, armed *F, clone func(F) F, validate func(*F) error) *FaultSwitch[F] {
	return &FaultSwitch[F]{mu: mu, armed: armed, clone: clone, validate: validate}
}

// Set replaces every fault with f once f is valid.
func (s *FaultSwitch[F]) Set(f F) error {
	f = s.clone(f)
	if err := s.validate(&f); err != nil {
		return err
	}
	s.mu.Lock()
	*s.armed = f
	s.mu.Unlock()
	return nil
}

// Clear disarms every fault.
func (s *FaultSwitch[F]) Clear() {
	var zero F
	s.mu.Lock()
	*s.armed = zero
	s.mu.Unlock()
}

// Get returns a copy of the faults still armed.
func (s *FaultSwitch[F]) Get() F {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clone(*s.armed)
}

// Patch applies apply to a copy of the armed faults and arms the result if it is valid;
// on any error the armed faults are left as they were.
func (s *FaultSwitch[F]) Patch(apply func(*F) error) (F, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.clone(*s.armed)
	var zero F
	if err := apply(&f); err != nil {
		return zero, err
	}
	if err := s.validate(&f); err != nil {
		return zero, err
	}
	*s.armed = f
	return s.clone(f), nil
}
