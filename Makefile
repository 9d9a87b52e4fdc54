# OmniTrackIQ. `make dev` runs the product locally; `make test` runs every test.
# Both install the pinned tools into ./bin first and start what is not running.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
export GOBIN := $(BIN)

# Pinned tool versions. Temporal CLI v1.5.1 is the newest the Go module proxy serves that
# `go install` can build (Server 1.29.1, Web UI 2.42.1 embedded); it takes ~3 minutes once.
TEMPORAL_CLI_VERSION := v1.5.1
WORKFLOWCHECK_VERSION := v0.6.0
# mailpit catches every email locally: SMTP on :1025, web UI and API on :8025.
MAILPIT_VERSION := v1.33.1
# stripe-mock answers Stripe API calls locally (HTTP :12111). v0.162.0 serves the object
# shapes stripe-go v76 (API 2023-10-16) expects; newer versions drop fields it reads.
STRIPE_MOCK_VERSION := v0.162.0

TEMPORAL := $(BIN)/temporal
WORKFLOWCHECK := $(BIN)/workflowcheck
TEMPORAL_STAMP := $(BIN)/.temporal-$(TEMPORAL_CLI_VERSION)
WORKFLOWCHECK_STAMP := $(BIN)/.workflowcheck-$(WORKFLOWCHECK_VERSION)
MAILPIT := $(BIN)/mailpit
MAILPIT_STAMP := $(BIN)/.mailpit-$(MAILPIT_VERSION)
STRIPE_MOCK := $(BIN)/stripe-mock
STRIPE_MOCK_STAMP := $(BIN)/.stripe-mock-$(STRIPE_MOCK_VERSION)

DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/omnitrackiq?sslmode=disable
export DATABASE_URL

GO_TEST_FLAGS ?= -count=1 -timeout 25m

# How long `make fuzz` runs each fuzz target (README "Fuzzing").
FUZZTIME ?= 1m

.PHONY: help tools dev test lint build bench postgres fuzz

help:
	@echo "make dev    run the whole product locally (Temporal + Web UI, sandbox, API, worker, demo data)"
	@echo "make test   run unit, workflow and integration tests"
	@echo "make tools  install the pinned tools into ./bin"
	@echo "make build  build ./bin/omnitrackiq"
	@echo "make lint   gofmt, go vet and workflowcheck"
	@echo "make bench  measure the COPY -> stage -> merge load path (bench/RESULTS.md)"
	@echo "make fuzz   run every fuzz target for FUZZTIME each (default 1m; FUZZTIME=10m for the long run)"

tools: $(TEMPORAL_STAMP) $(WORKFLOWCHECK_STAMP) $(MAILPIT_STAMP) $(STRIPE_MOCK_STAMP)

$(TEMPORAL_STAMP):
	@mkdir -p $(BIN)
	@echo "installing temporal CLI $(TEMPORAL_CLI_VERSION) into ./bin (first time only, ~3 min)"
	go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
	@touch $@

$(WORKFLOWCHECK_STAMP):
	@mkdir -p $(BIN)
	go install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)
	@touch $@

$(MAILPIT_STAMP):
	@mkdir -p $(BIN)
	@echo "installing mailpit $(MAILPIT_VERSION) into ./bin (first time only, ~1 min)"
	go install github.com/axllent/mailpit@$(MAILPIT_VERSION)
	@touch $@

$(STRIPE_MOCK_STAMP):
	@mkdir -p $(BIN)
	go install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
	@touch $@

build:
	go build -o $(BIN)/omnitrackiq ./cmd/omnitrackiq

postgres:
	@scripts/ensure-postgres.sh

dev: tools postgres build
	$(BIN)/omnitrackiq dev

lint: tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	$(WORKFLOWCHECK) ./workflows/...

test: tools postgres lint
	TEMPORAL_CLI=$(TEMPORAL) MAILPIT=$(MAILPIT) STRIPE_MOCK=$(STRIPE_MOCK) go test $(GO_TEST_FLAGS) ./...

bench: postgres
	bench/run.sh

# Every `func FuzzX` of every package, one after the other (go test fuzzes one target at a
# time). New findings are written to the package's testdata/fuzz and fail the run.
fuzz: postgres
	@for dir in $$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z]' . | xargs -n1 dirname | sort -u); do \
		for fn in $$(grep -h -oE '^func Fuzz[A-Za-z0-9_]+' $$dir/*_test.go | cut -d' ' -f2 | sort -u); do \
			echo "fuzz $$dir $$fn for $(FUZZTIME)"; \
			go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done
