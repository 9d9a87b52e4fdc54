package ga4

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// reportRequest is the body of runReport. limit and offset are int64, which the proto3
// JSON mapping writes as strings.
type reportRequest struct {
	DateRanges          []dateRange `json:"dateRanges"`
	Dimensions          []named     `json:"dimensions"`
	Metrics             []named     `json:"metrics"`
	OrderBys            []orderBy   `json:"orderBys,omitempty"`
	Limit               string      `json:"limit"`
	Offset              string      `json:"offset"`
	ReturnPropertyQuota bool        `json:"returnPropertyQuota,omitempty"`
	KeepEmptyRows       *bool       `json:"keepEmptyRows,omitempty"`
}

type dateRange struct {
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate"`
}

type named struct {
	Name string `json:"name"`
}

type orderBy struct {
	Dimension *dimensionOrder `json:"dimension,omitempty"`
	Desc      bool            `json:"desc,omitempty"`
}

type dimensionOrder struct {
	DimensionName string `json:"dimensionName"`
}

// reportResponse is the part of a RunReportResponse the connector reads.
type reportResponse struct {
	DimensionHeaders []named `json:"dimensionHeaders"`
	MetricHeaders    []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"metricHeaders"`
	Rows []struct {
		DimensionValues []value `json:"dimensionValues"`
		MetricValues    []value `json:"metricValues"`
	} `json:"rows"`
	// RowCount is the number of rows of the whole report; absent when it has none.
	RowCount *jsonInt `json:"rowCount"`
	Metadata struct {
		CurrencyCode          string `json:"currencyCode"`
		TimeZone              string `json:"timeZone"`
		DataLossFromOtherRow  bool   `json:"dataLossFromOtherRow"`
		SubjectToThresholding bool   `json:"subjectToThresholding"`
	} `json:"metadata"`
	PropertyQuota map[string]quotaStatus `json:"propertyQuota"`
}

type value struct {
	Value string `json:"value"`
}

// jsonInt decodes an integer sent as a JSON number or a string (int64 fields are strings
// under the proto3 JSON mapping, int32 fields numbers).
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = jsonInt(v)
	return nil
}

// runReport calls runReport with the account's access token. A 401 with a refresh token at
// hand mints a new access token and tries once more.
func (c *Client) runReport(ctx context.Context, acct channels.Account, id string, body reportRequest) (*reportResponse, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("ga4 encode report request: %w", err)
	}
	token, err := c.accessToken(ctx, acct, "")
	if err != nil {
		return nil, err
	}
	data, err := c.post(ctx, acct, token, id, payload)
	if isUnauthenticated(err) && acct.RefreshToken != "" {
		c.o.Logger.InfoContext(ctx, "ga4 access token rejected; refreshing it once", "property_id", id)
		if token, err = c.accessToken(ctx, acct, token); err != nil {
			return nil, err
		}
		data, err = c.post(ctx, acct, token, id, payload)
	}
	if err != nil {
		return nil, err
	}
	var resp reportResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, c.badResponse(acct, "runReport", err)
	}
	return &resp, nil
}

func isUnauthenticated(err error) bool {
	pe, ok := channels.AsError(err)
	return ok && pe.HTTPStatus == http.StatusUnauthorized
}

// post sends one runReport call. Errors never contain a token.
func (c *Client) post(ctx context.Context, acct channels.Account, token, id string, payload []byte) ([]byte, error) {
	// id is digits (NormalizePropertyID), so the path needs no escaping.
	u := *c.base
	u.Path = c.base.Path + "/" + apiVersion + "/properties/" + id + ":runReport"
	what := "POST " + u.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("%s: build request: %v", what, err))}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, data, err := httpx.Do(c.o.HTTPClient, req, maxResponseBytes)
	if err != nil {
		return nil, c.transportError(ctx, acct, what, err)
	}
	c.o.Logger.DebugContext(ctx, "ga4 call", "request", what, "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	e := c.classify(resp.StatusCode, resp.Header, data)
	e.Message = c.scrub(acct, e.Message)
	c.o.Logger.InfoContext(ctx, "ga4 call failed", "request", what, "status", resp.StatusCode,
		"kind", e.Kind.String(), "retry_after", e.RetryAfter)
	return nil, e
}

// transportError turns a client-side failure into a transient error; a cancelled or
// expired context is returned as such.
func (c *Client) transportError(ctx context.Context, acct channels.Account, what string, err error) error {
	return httpx.TransportError(ctx, channels.GA4, "ga4", what, err, c.secrets(acct)...)
}

// badResponse is a 2xx answer that cannot be understood; a retry may fix it.
func (c *Client) badResponse(acct channels.Account, what string, err error) error {
	return httpx.BadResponse(channels.GA4, what, err, c.secrets(acct)...)
}

// scrub removes the account's tokens (raw and query-escaped), every access token minted
// for it and the client secret from a message.
func (c *Client) scrub(acct channels.Account, msg string) string {
	return httpx.Scrub(msg, c.secrets(acct)...)
}

// secrets lists the account's tokens, the access tokens minted for it and the client secret.
func (c *Client) secrets(acct channels.Account) []string {
	secrets := []string{acct.Token, acct.RefreshToken, c.o.ClientSecret}
	if acct.RefreshToken != "" {
		secrets = append(secrets, c.tokens.Minted(acct.RefreshToken)...)
	}
	return secrets
}
