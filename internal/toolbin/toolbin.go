// Package toolbin finds the pinned tools `make tools` installs into ./bin (the Temporal
// CLI, mailpit, stripe-mock), for the tests and `make dev` that run them.
package toolbin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Find returns $envVar when set, else ./bin/name in the working directory or the nearest
// parent holding go.mod.
func Find(envVar, name string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("%s not found at %s: run `make tools` (or `make test`, which does)", name, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(name + " not found: set " + envVar + " or run `make tools`")
		}
		dir = parent
	}
}
