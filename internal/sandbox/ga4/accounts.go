package ga4

import (
	"net/http"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DemoAccountName and DemoAccountDisplayName are the one Analytics account that holds every
// property of the sandbox.
const (
	DemoAccountName        = "accounts/1"
	DemoAccountDisplayName = "Demo"
)

// AdminAPI is the Google Analytics Admin API of the sandbox, which Google serves from its
// own host (analyticsadmin.googleapis.com), so it is mounted apart from the Data API:
//
//	GET /v1beta/accountSummaries   Authorization: Bearer <access token>
//	    -> {"accountSummaries":[{"name","account","displayName","propertySummaries":[{"property",
//	       "displayName","propertyType","parent"}]}],"nextPageToken":""}
//
// It takes the tokens the Data API takes, with the same faults on them.
func (s *Server) AdminAPI() http.Handler { return http.HandlerFunc(s.serveAdminAPI) }

func (s *Server) serveAdminAPI(w http.ResponseWriter, r *http.Request) {
	rec := kit.NewStatusRecorder(w)
	defer func() {
		s.reqs.Add(RequestLog{Time: s.now().UTC(), Method: r.Method, Path: "admin:" + r.URL.Path, Status: rec.Status})
	}()
	if r.URL.Path != "/v1beta/accountSummaries" || r.Method != http.MethodGet {
		writeRPCError(rec, http.StatusNotFound, "NOT_FOUND", "Method not found.")
		return
	}
	if !s.authorize(rec, r) {
		return
	}
	props := []map[string]string{}
	for _, id := range s.order {
		props = append(props, map[string]string{
			"property": "properties/" + id, "displayName": s.props[id].Name,
			"propertyType": "PROPERTY_TYPE_ORDINARY", "parent": DemoAccountName,
		})
	}
	writeJSON(rec, http.StatusOK, map[string]any{
		"accountSummaries": []map[string]any{{
			"name": "accountSummaries/1", "account": DemoAccountName, "displayName": DemoAccountDisplayName,
			"propertySummaries": props,
		}},
		"nextPageToken": "",
	})
}
