package googleads

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// query is a parsed GAQL query. The sandbox understands just enough GAQL for reports:
//
//	SELECT f, ... FROM resource
//	  [WHERE cond AND ...]      segments.date BETWEEN 'a' AND 'b' | segments.date op 'd' |
//	                            field op v (=, !=, <, <=, >, >=) | field [NOT] IN (v, ...)
//	  [ORDER BY f [ASC|DESC], ...] [LIMIT n]
type query struct {
	fields  []string
	from    string
	since   time.Time // zero: unbounded
	until   time.Time
	dated   bool // a segments.date condition is present
	filters []filter
	order   []orderKey
	limit   int
}

// filter is a condition on a field other than segments.date. op is one of =, !=, <, <=,
// >, >=, IN, NOT IN.
type filter struct {
	field  string
	op     string
	values []string
}

type orderKey struct {
	field string
	desc  bool
}

// queryError is a GAQL error: its QueryErrorEnum code and message.
type queryError struct {
	code string
	msg  string
}

func (e *queryError) Error() string { return e.code + ": " + e.msg }

func qerr(code, format string, args ...any) *queryError {
	return &queryError{code: code, msg: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tString
	tPunct
	tEOF
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, qerr("UNEXPECTED_END_OF_QUERY", "Unterminated string starting at position %d.", i)
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j + 1
		case strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], ">="):
			toks = append(toks, token{tPunct, s[i : i+2], i})
			i += 2
		case strings.ContainsRune("=<>,()", rune(c)):
			toks = append(toks, token{tPunct, s[i : i+1], i})
			i++
		default:
			return nil, qerr("QUERY_ERROR", "Error in query: unexpected input %q at position %d.", c, i)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(kw string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw, code string) error {
	if !p.keyword(kw) {
		return qerr(code, "Error in query: expected %s at position %d.", kw, p.peek().pos)
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.next()
	if t.kind != tIdent {
		if t.kind == tEOF {
			return "", qerr("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
		}
		return "", qerr("QUERY_ERROR", "Error in query: expected a field name at position %d.", t.pos)
	}
	return strings.ToLower(t.text), nil
}

func (p *parser) value() (string, error) {
	t := p.next()
	switch t.kind {
	case tString, tNumber, tIdent:
		return t.text, nil
	case tEOF:
		return "", qerr("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
	}
	return "", qerr("QUERY_ERROR", "Error in query: expected a value at position %d.", t.pos)
}

// parseQuery parses the GAQL subset; field names are checked later against the catalog.
func parseQuery(s string) (*query, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{}
	if err := p.expectKeyword("SELECT", "EXPECTED_SELECT"); err != nil {
		return nil, err
	}
	for {
		f, err := p.ident()
		if err != nil {
			return nil, err
		}
		q.fields = append(q.fields, f)
		if t := p.peek(); t.kind == tPunct && t.text == "," {
			p.next()
			continue
		}
		break
	}
	if err := p.expectKeyword("FROM", "EXPECTED_FROM"); err != nil {
		return nil, err
	}
	if q.from, err = p.ident(); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		for {
			if err := p.condition(q); err != nil {
				return nil, err
			}
			if !p.keyword("AND") {
				break
			}
		}
	}
	if p.keyword("ORDER") {
		if err := p.expectKeyword("BY", "QUERY_ERROR"); err != nil {
			return nil, err
		}
		for {
			f, err := p.ident()
			if err != nil {
				return nil, err
			}
			k := orderKey{field: f}
			if p.keyword("DESC") {
				k.desc = true
			} else {
				p.keyword("ASC")
			}
			q.order = append(q.order, k)
			if t := p.peek(); t.kind == tPunct && t.text == "," {
				p.next()
				continue
			}
			break
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tNumber || err != nil || n <= 0 {
			return nil, qerr("BAD_LIMIT_VALUE", "LIMIT must be a positive integer.")
		}
		q.limit = n
	}
	if p.keyword("PARAMETERS") {
		return nil, qerr("QUERY_ERROR", "The sandbox does not support PARAMETERS.")
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, qerr("QUERY_ERROR", "Error in query: unexpected input %s at position %d.", t.text, t.pos)
	}
	return q, nil
}

func (p *parser) condition(q *query) error {
	field, err := p.ident()
	if err != nil {
		return err
	}
	if field == "segments.date" {
		return p.dateCondition(q)
	}
	f := filter{field: field}
	switch t := p.next(); {
	case t.kind == tPunct && t.text != "," && t.text != "(" && t.text != ")":
		f.op = t.text
		v, err := p.value()
		if err != nil {
			return err
		}
		f.values = []string{v}
	case t.kind == tIdent && (strings.EqualFold(t.text, "IN") || strings.EqualFold(t.text, "NOT")):
		f.op = "IN"
		if strings.EqualFold(t.text, "NOT") {
			if err := p.expectKeyword("IN", "BAD_OPERATOR"); err != nil {
				return err
			}
			f.op = "NOT IN"
		}
		if t := p.next(); t.kind != tPunct || t.text != "(" {
			return qerr("QUERY_ERROR", "Error in query: expected ( after IN.")
		}
		for {
			v, err := p.value()
			if err != nil {
				return err
			}
			f.values = append(f.values, v)
			t := p.next()
			if t.kind == tPunct && t.text == ")" {
				break
			}
			if t.kind != tPunct || t.text != "," {
				return qerr("QUERY_ERROR", "Error in query: expected , or ) in the IN list.")
			}
		}
	default:
		return qerr("BAD_OPERATOR", "The sandbox supports only =, !=, <, <=, >, >=, IN and NOT IN on %s.", field)
	}
	q.filters = append(q.filters, f)
	return nil
}

// dateCondition narrows [since, until] by one condition on segments.date.
func (p *parser) dateCondition(q *query) error {
	date := func() (time.Time, error) {
		v, err := p.value()
		if err != nil {
			return time.Time{}, err
		}
		d, err := time.Parse(dateLayout, v)
		if err != nil {
			return time.Time{}, qerr("INVALID_ARGUMENT_FOR_DATE", "Invalid date %q: dates must be YYYY-MM-DD.", v)
		}
		return d, nil
	}
	narrow := func(from, to time.Time) {
		if !from.IsZero() && (q.since.IsZero() || from.After(q.since)) {
			q.since = from
		}
		if !to.IsZero() && (q.until.IsZero() || to.Before(q.until)) {
			q.until = to
		}
	}
	q.dated = true
	t := p.next()
	switch {
	case t.kind == tIdent && strings.EqualFold(t.text, "BETWEEN"):
		from, err := date()
		if err != nil {
			return err
		}
		if err := p.expectKeyword("AND", "INVALID_VALUE_WITH_BETWEEN_OPERATOR"); err != nil {
			return err
		}
		to, err := date()
		if err != nil {
			return err
		}
		narrow(from, to)
	case t.kind == tIdent && strings.EqualFold(t.text, "DURING"):
		return qerr("QUERY_ERROR", "The sandbox does not support DURING; use segments.date BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD'.")
	case t.kind == tPunct && t.text != "," && t.text != "(" && t.text != ")" && t.text != "!=":
		d, err := date()
		if err != nil {
			return err
		}
		switch t.text {
		case "=":
			narrow(d, d)
		case ">=":
			narrow(d, time.Time{})
		case ">":
			narrow(d.AddDate(0, 0, 1), time.Time{})
		case "<=":
			narrow(time.Time{}, d)
		case "<":
			narrow(time.Time{}, d.AddDate(0, 0, -1))
		}
	default:
		return qerr("BAD_OPERATOR", "The sandbox supports BETWEEN, =, <, <=, > and >= on segments.date.")
	}
	return nil
}

// camel turns a GAQL field path into its proto3 JSON path: ad_group_ad.ad.id ->
// adGroupAd.ad.id, metrics.cost_micros -> metrics.costMicros.
func camel(field string) []string {
	parts := strings.Split(field, ".")
	for i, p := range parts {
		var b strings.Builder
		up := false
		for _, r := range p {
			if r == '_' {
				up = true
				continue
			}
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			up = false
			b.WriteRune(r)
		}
		parts[i] = b.String()
	}
	return parts
}
