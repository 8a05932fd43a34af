# chave — see README.md. Every target works on a fresh Debian machine with Go;
# `generate` and `lint` also use npm (buf and Google's API protos, pinned in
# package.json) and the Go tools pinned in tools/go.mod.

SHELL   := /bin/bash
# The toolchain chave is built and tested with: a machine starts on its own Go
# and fetches this one through the module proxy (go.mod's toolchain line alone
# is ignored where GOTOOLCHAIN=local).
export GOTOOLCHAIN := go1.27.3
GO      ?= go
MODULES := proto services gateway deploy
BUF     := node_modules/@bufbuild/buf-linux-x64/bin/buf
AXE     := node_modules/axe-core/axe.min.js
GOOGLE_PROTOS := annotations http
# A development server: nothing balances load to it, so Ctrl-C stops it at
# once (no drain delay).
RUN_FLAGS ?= --db sqlite://chave-data/chave.db --print-bootstrap-credential --shutdown-drain-delay 0s

.PHONY: all build run test test-short lint generate check-generate tools bench bench-quick bench-go bench-load bench-compare clean vulncheck fuzz-quick

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -o bin/chave github.com/chave/chave/services/cmd/chave

run: build
	@mkdir -p chave-data
	bin/chave serve $(RUN_FLAGS)

# The admin console's browser tests need axe-core from npm (and Debian's chromium).
test: $(AXE)
	@set -e; for m in $(MODULES); do \
		echo "== go vet + test: $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 ./...); \
	done

test-short: $(AXE)
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -count=1 ./...); done

$(BUF) $(AXE) &: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(BUF) $(AXE)

tools:
	GOWORK=off GOBIN=$(CURDIR)/.bin $(GO) -C tools install tool

# Copy just the Google API protos we import from the pinned npm package into
# a git-ignored buf module (a module over the whole package holds thousands
# of unrelated files).
.build/googleapis: $(BUF)
	@mkdir -p .build/googleapis/google/api
	@for f in $(GOOGLE_PROTOS); do cp node_modules/google-proto-files/google/api/$$f.proto .build/googleapis/google/api/; done

generate: $(BUF) tools .build/googleapis
	$(BUF) lint
	$(BUF) generate
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) fmt ./... >/dev/null); done

# Fails when the committed generated code differs from what `generate` makes.
check-generate: generate
	git diff --exit-code -- proto gateway/openapi
	@test -z "$$(git status --porcelain -- proto gateway/openapi)" || { git status --porcelain -- proto gateway/openapi; exit 1; }

lint: $(BUF) .build/googleapis
	$(BUF) lint
	@gofmt=$$($(GO) env GOROOT)/bin/gofmt; \
	test -z "$$($$gofmt -l $(MODULES))" || { echo "gofmt needed:"; $$gofmt -l $(MODULES); exit 1; }
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	GOWORK=off GOBIN=$(CURDIR)/.bin $(GO) -C tools install honnef.co/go/tools/cmd/staticcheck
	@set -e; for m in $(MODULES); do echo "== staticcheck: $$m"; (cd $$m && $(CURDIR)/.bin/staticcheck ./...); done

# The benchmarks (docs/performance.md). `bench` drives every hot path of
# `chave serve` (SQLite, in-process revocation set) at concurrency 1, 16 and
# 64 (and 32 for the headline grant) next to stdlib floors measured in the
# same run, the services apart on PostgreSQL and Redis it starts, and
# services/verify in-process, and prints one table; `bench-quick` is the
# same at concurrency 16 for a few seconds a path, without PostgreSQL (CI
# runs it: it fails on any failed request). The driver is
# `chave-load bench` (services/cmd/chave-load).
BENCH_TIME ?= 5s
BENCH_WARMUP ?= 1s
BENCH_CONCURRENCY ?= 32
BENCH_FLAGS ?=

bench: build
	@$(GO) build -o bin/chave-load github.com/chave/chave/services/cmd/chave-load
	bin/chave-load bench --chave bin/chave --apart --million --duration $(BENCH_TIME) --warmup $(BENCH_WARMUP) $(BENCH_FLAGS)

bench-quick: build
	@$(GO) build -o bin/chave-load github.com/chave/chave/services/cmd/chave-load
	bin/chave-load bench --chave bin/chave --quick --million --million-tokens 20000 --duration 2s --warmup 500ms $(BENCH_FLAGS)

# Go benchmarks of the hot paths, in-process. BENCH_OUT=file keeps their
# output for bench-compare.
BENCH_COUNT ?= 1
BENCH_OUT ?= /dev/stdout

bench-go:
	cd services && $(GO) test -run '^$$' -bench . -benchmem -benchtime 1s -count $(BENCH_COUNT) \
		./internal/secrets ./internal/signing ./verify ./internal/auth ./revocation ./internal/registry | tee $(abspath $(BENCH_OUT))

# benchstat OLD NEW: e.g. `make bench-go BENCH_COUNT=10 BENCH_OUT=old.txt`
# on the base, the same with new.txt on the change, then
# `make bench-compare OLD=old.txt NEW=new.txt`.
bench-compare:
	GOWORK=off GOBIN=$(CURDIR)/.bin $(GO) -C tools install golang.org/x/perf/cmd/benchstat
	.bin/benchstat $(OLD) $(NEW)

# The grant load alone (the figure the first version of bench printed).
bench-load: build
	@$(GO) build -o bin/chave-load github.com/chave/chave/services/cmd/chave-load
	@set -e; dir=$$(mktemp -d); trap 'kill $$pids 2>/dev/null; rm -rf $$dir' EXIT; \
	bin/chave serve --db sqlite://$$dir/chave.db --http-addr 127.0.0.1:18080 --grpc-addr 127.0.0.1:19090 --metrics-addr 127.0.0.1:19100 \
		--log-level warn >$$dir/serve.log 2>&1 & pids="$$!"; \
	bin/chave-load --serve-floor 127.0.0.1:18081 & pids="$$pids $$!"; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done; \
	cred=$$(bin/chave bootstrap --db sqlite://$$dir/chave.db); \
	id=$$(echo "$$cred" | sed -E 's/.*"clientId":"([^"]+)".*/\1/'); \
	secret=$$(echo "$$cred" | sed -E 's/.*"clientSecret":"([^"]+)".*/\1/'); \
	echo "== machine: $$(nproc) cores, $$(go version | cut -d' ' -f3)"; \
	echo "== stdlib floor (parse, SHA-256 compare, one ES256 signature, JSON)"; \
	bin/chave-load --url http://127.0.0.1:18081 --client-id floor-client --client-secret floor-secret \
		--duration $(BENCH_TIME) --concurrency $(BENCH_CONCURRENCY) | tee $$dir/floor; \
	echo "== chave: POST /oauth2/token through the gateway, auth and registry"; \
	bin/chave-load --url http://127.0.0.1:18080 --client-id "$$id" --client-secret "$$secret" \
		--duration $(BENCH_TIME) --concurrency $(BENCH_CONCURRENCY) | tee $$dir/chave; \
	echo "== chave: POST /rest/WSTSSAUTH"; \
	bin/chave-load --url http://127.0.0.1:18080 --endpoint tss --client-id "$$id" --client-secret "$$secret" \
		--duration $(BENCH_TIME) --concurrency $(BENCH_CONCURRENCY); \
	f=$$(sed -E 's/.*rate=([0-9]+).*/\1/' $$dir/floor); c=$$(sed -E 's/.*rate=([0-9]+).*/\1/' $$dir/chave); \
	echo "== chave / floor = $$c / $$f = $$(( 100 * c / f ))%"

# govulncheck on every module (source mode, symbol level: fails only on a
# vulnerability chave's code reaches), against a database built offline from
# the pinned golang.org/x/vulndb module's OSV files with its own cmd/indexdb.
# govulncheck is pinned in tools/go.mod and, like indexdb, built with
# $(GOTOOLCHAIN) (one built with an older Go cannot read newer code). The
# database and indexdb are kept in $(VULN_DIR) across runs, per vulndb version.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULN_DIR       := $(CURDIR)/.build/vulndb
VULN_DB        := $(VULN_DIR)/db-$(VULNDB_VERSION)

$(VULN_DB)/index/db.json:
	@set -e; mkdir -p $(VULN_DIR); \
	src=$$(cd tools && GOWORK=off $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$src" || { echo "golang.org/x/vulndb@$(VULNDB_VERSION): no module directory"; exit 1; }; \
	test -x $(VULN_DIR)/indexdb-$(VULNDB_VERSION) || GOWORK=off $(GO) -C "$$src" build -o $(VULN_DIR)/indexdb-$(VULNDB_VERSION) ./cmd/indexdb; \
	rm -rf $(VULN_DB).tmp; \
	$(VULN_DIR)/indexdb-$(VULNDB_VERSION) -vulns "$$src/data/osv" -out $(VULN_DB).tmp; \
	rm -rf $(VULN_DB); mv $(VULN_DB).tmp $(VULN_DB)

vulncheck: $(VULN_DB)/index/db.json
	GOWORK=off GOBIN=$(CURDIR)/.bin $(GO) -C tools install golang.org/x/vuln/cmd/govulncheck
	@set -e; for m in $(MODULES); do \
		echo "== govulncheck: $$m"; \
		(cd $$m && $(CURDIR)/.bin/govulncheck -db file://$(VULN_DB) ./...); \
	done

# Every Fuzz target of every module, briefly: `go test -fuzz` takes one
# target at a time, so each package whose tests declare a Fuzz function has
# its targets listed by `go test -list` and run one by one for FUZZ_TIME.
FUZZ_TIME ?= 5s

fuzz-quick:
	@set -e; for m in $(MODULES); do \
		(cd $$m && $(GO) list -f '{{.Dir}} {{.ImportPath}}' ./...) | while read -r dir pkg; do \
			grep -qs '^func Fuzz' $$dir/*_test.go || continue; \
			for f in $$(cd $$m && $(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
				echo "== fuzz $$pkg $$f ($(FUZZ_TIME))"; \
				(cd $$m && $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_TIME) $$pkg) || exit 1; \
			done; \
		done; \
	done

clean:
	rm -rf bin .bin .build
