package httpx

import "regexp"

// Hidden replaces an address of ours in a message.
const Hidden = "[address]"

var (
	// ipv4 is a dotted IPv4 address, with its port if any.
	ipv4 = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`)
	// ipv6 is a bracketed IPv6 address (as Go prints one with a port), with its port if any.
	ipv6 = regexp.MustCompile(`\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[^\]\s]*)?\](?::\d{1,5})?`)
	// socket is the endpoint that Go's net errors name: "dial tcp db.internal:5432",
	// "read tcp [address]->[address]", "lookup db.internal on [address]".
	socket = regexp.MustCompile(`\b((?:dial|read|write) (?:tcp|udp)[46]?|lookup) (?:\[[^\]\s]*\]|[^\s:>\[]+)(?::\d{1,5})?`)
	// dsn is the connection description pgx prints ("failed to connect to `host=... user=...`").
	dsn = regexp.MustCompile("`[^`]*\\b(?:host|user|dbname|database)=[^`]*`")
)

// HideAddresses replaces the network addresses of our own side that an error's text may
// carry (IP literals with their ports, the endpoint of a dial or lookup, a database
// connection description) by Hidden. It is the last guard before a message is stored where
// tenants read it (a connection's status_reason, a sync run's error): the connectors already
// describe network failures by the provider's host, but an error from elsewhere (the
// database, Temporal) may still name ours.
func HideAddresses(msg string) string {
	msg = dsn.ReplaceAllString(msg, "`"+Hidden+"`")
	msg = ipv6.ReplaceAllString(msg, Hidden)
	msg = ipv4.ReplaceAllString(msg, Hidden)
	return socket.ReplaceAllString(msg, "$1 "+Hidden)
}
