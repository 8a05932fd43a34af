# chave — see README.md. Every target works on a fresh Debian machine with Go;
# `generate` and `lint` also use npm (buf and Google's API protos, pinned in
# package.json) and the Go tools pinned in tools/go.mod.

SHELL   := /bin/bash
GO      ?= go
MODULES := proto services gateway deploy
BUF     := node_modules/@bufbuild/buf-linux-x64/bin/buf
GOOGLE_PROTOS := annotations http
RUN_FLAGS ?= --db sqlite://chave-data/chave.db --print-bootstrap-credential

.PHONY: all build run test test-short lint generate check-generate tools bench clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -o bin/chave github.com/chave/chave/services/cmd/chave

run: build
	@mkdir -p chave-data
	bin/chave serve $(RUN_FLAGS)

test:
	@set -e; for m in $(MODULES); do \
		echo "== go vet + test: $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 ./...); \
	done

test-short:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -count=1 ./...); done

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(BUF)

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
	@test -z "$$(gofmt -l $(MODULES))" || { echo "gofmt needed:"; gofmt -l $(MODULES); exit 1; }
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

clean:
	rm -rf bin .bin .build
