// Package migrations holds the golang-migrate SQL files, embedded into the binary.
package migrations

import "embed"

// FS holds every NNNN_name.up.sql / .down.sql file of this directory.
//
//go:embed *.sql
var FS embed.FS
