package api

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
)

// apiLimits are the configured deadlines and limits with defaults filled in.
type apiLimits config.APILimits

// rateLimit counts every /v1 request against its client address and, when it carries a
// well-formed API key or a valid access token, against that key or user, in PostgreSQL's
// fixed windows (store.RateHit), so the limits hold across replicas. Past either limit it
// answers 429 with Retry-After. It runs before authentication, so a flood is refused
// before it costs a credential lookup; the counters live in the control pool, which
// analytics cannot exhaust.
func (s *server) rateLimit(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		c.Next()
		return
	}
	if s.overRate(c, "api:ip:"+clientIP(c), s.apiLimits.PerIP, "this address") {
		return
	}
	if b := s.credentialBucket(c); b != "" && s.overRate(c, b, s.apiLimits.PerKey, "this API key or user") {
		return
	}
	c.Next()
}

// credentialBucket names the rate bucket of the request's credential: the API key (by a
// prefix of its hash, never the key) or the user of a valid access token. It is empty for
// a request without a credential it can attribute; the address limit still covers it.
func (s *server) credentialBucket(c *gin.Context) string {
	scheme, cred, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return ""
	}
	if strings.HasPrefix(cred, apikey.Scheme) {
		if !apikey.WellFormed(cred) {
			return ""
		}
		return "api:key:" + hex.EncodeToString(apikey.Hash(cred)[:16])
	}
	if s.Tokens == nil {
		return ""
	}
	claims, err := s.Tokens.Verify(cred)
	if err != nil {
		return ""
	}
	return "api:user:" + claims.Subject
}

// overRate counts a hit against bucket and answers 429 once it passes l. It reports
// whether it answered.
func (s *server) overRate(c *gin.Context, bucket string, l config.Limit, who string) bool {
	rc, err := s.Store.RateHit(c.Request.Context(), bucket, l.Window)
	if err != nil {
		s.unavailable(c, "the database", err)
		return true
	}
	if rc.Hits <= l.Max {
		return false
	}
	retry := max(1, int(math.Ceil(rc.ResetIn.Seconds())))
	tooManyRequests(c, retry, fmt.Sprintf("%s made more than %d requests in %s; retry in %d seconds",
		who, l.Max, l.Window, retry))
	return true
}

func tooManyRequests(c *gin.Context, retryAfter int, detail string) {
	c.Header("Retry-After", strconv.Itoa(retryAfter))
	writeProblem(c, Problem{Type: typeRateLimited, Title: "Too many requests", Status: http.StatusTooManyRequests, Detail: detail})
}

// slotRetryAfter is the Retry-After, in seconds, of a request refused an analytics slot:
// slots free as soon as a running request ends.
const slotRetryAfter = 1

// analyticsSlot runs h holding one of the workspace's analytics slots. Analytics queries
// scale with a workspace's history, so without a bound one workspace's parallel calls
// take every connection of the pool and every other workspace waits behind them.
//
// The slots are counted per replica: each replica allows AnalyticsPerWorkspace requests
// of one workspace and AnalyticsPerReplica in all at once, so analytics never holds more
// than that share of the replica's pool, and a workspace's total is AnalyticsPerWorkspace
// × replicas. A cross-replica count would need a connection held per slot (advisory
// locks) or two more writes per request (a lease table) to protect what is, in the end,
// each replica's own pool; the per-key rate limit, which is counted in PostgreSQL, bounds
// the request rate across replicas. Over either bound the request is refused at once,
// never queued holding a connection.
func (s *server) analyticsSlot(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		release, err := s.slots.acquire(workspaceID(c))
		switch err {
		case errWorkspaceBusy:
			tooManyRequests(c, slotRetryAfter, fmt.Sprintf(
				"this workspace already runs %s at once; retry when one finishes",
				plural(s.apiLimits.AnalyticsPerWorkspace, "analytics request")))
			return
		case errReplicaBusy:
			c.Header("Retry-After", strconv.Itoa(slotRetryAfter))
			writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
				Detail: "the server is busy with other analytics requests; retry shortly"})
			return
		}
		// Deferred, so a panic or a timeout gives the slot back too.
		defer release()
		h(c)
	}
}

// slotError says which bound refused a slot.
type slotError string

func (e slotError) Error() string { return string(e) }

const (
	errWorkspaceBusy = slotError("the workspace has no free analytics slot")
	errReplicaBusy   = slotError("the replica has no free analytics slot")
)

// slots counts the analytics requests running on this replica, in all and by workspace.
type slots struct {
	perKey, total int

	mu    sync.Mutex
	inUse int
	byKey map[string]int
}

func newSlots(perKey, total int) *slots {
	return &slots{perKey: perKey, total: total, byKey: map[string]int{}}
}

// acquire takes a slot for key, or says which bound is reached. release gives it back;
// calling it more than once is harmless.
func (s *slots) acquire(key string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey[key] >= s.perKey {
		return nil, errWorkspaceBusy
	}
	if s.inUse >= s.total {
		return nil, errReplicaBusy
	}
	s.inUse++
	s.byKey[key]++
	var once sync.Once
	return func() { once.Do(func() { s.release(key) }) }, nil
}

func (s *slots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse--
	if s.byKey[key]--; s.byKey[key] <= 0 {
		delete(s.byKey, key)
	}
}

// held is how many slots are taken, in all and by key.
func (s *slots) held(key string) (total, byKey int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse, s.byKey[key]
}
