// Package kit is the plumbing every sandbox provider shares: admin JSON, the request log,
// the faults endpoint, fault patches, days and deterministic data generation. Each sandbox
// keeps its own wire format, faults and data; kit holds only what is the same in all of
// them, so a fix (such as the JSON-null one of fault patches) is made once.
package kit
