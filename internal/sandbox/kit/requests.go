package kit

import (
	"net/http"
	"sync"
)

// MaxRequests is how many served requests a RequestLog keeps: enough for any test run,
// bounded so a long-running dev stack does not grow without end.
const MaxRequests = 10_000

// RequestLog is a sandbox's log of served requests, a ring of the last MaxRequests entries
// of the sandbox's own entry type T. The zero value is ready to use; it is safe for
// concurrent use and has its own lock, as nothing else is read together with it.
type RequestLog[T any] struct {
	mu   sync.Mutex
	buf  []T
	next int // where the next entry goes once buf is full
}

// Add appends an entry, dropping the oldest when the log is full.
func (l *RequestLog[T]) Add(e T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) < MaxRequests {
		l.buf = append(l.buf, e)
		return
	}
	l.buf[l.next] = e
	l.next = (l.next + 1) % MaxRequests
}

// All returns the entries, oldest first; nil when there are none.
func (l *RequestLog[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		return nil
	}
	out := make([]T, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	return append(out, l.buf[:l.next]...)
}

// Reset empties the log.
func (l *RequestLog[T]) Reset() {
	l.mu.Lock()
	l.buf, l.next = nil, 0
	l.mu.Unlock()
}

// ServeHTTP serves the requests admin endpoint: GET answers the log ([] when empty), DELETE
// empties it and answers [].
func (l *RequestLog[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		reqs := l.All()
		if reqs == nil {
			reqs = []T{}
		}
		WriteJSON(w, http.StatusOK, reqs)
	case http.MethodDelete:
		l.Reset()
		WriteJSON(w, http.StatusOK, []T{})
	default:
		WriteError(w, http.StatusMethodNotAllowed, r.Method+" is not GET or DELETE")
	}
}

// StatusRecorder remembers the status an API handler answered, for the request log.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// NewStatusRecorder wraps w; a handler that never calls WriteHeader answered 200.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records code and passes it on.
func (r *StatusRecorder) WriteHeader(code int) {
	r.Status = code
	r.ResponseWriter.WriteHeader(code)
}
