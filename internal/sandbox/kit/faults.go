package kit

import "net/http"

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
