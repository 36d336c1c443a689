# Sluice: the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test test-clients bench fmt lint openapi openapi-check build db-stop

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: ## Start Sluice with a local metadata database and a first admin
	@scripts/run.sh

test: ## Formatting, lints, every test against real databases, OpenAPI drift, real MCP clients
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	pg="$$(scripts/pg.sh admin-url)" && my="$$(scripts/mysql.sh url)" && \
		TEST_DATABASE_URL="$$pg" TEST_MYSQL_URL="$$my" cargo test --workspace
	@$(MAKE) --no-print-directory openapi-check
	@$(MAKE) --no-print-directory test-clients

test-clients: ## The official MCP clients (Python and TypeScript SDKs, Inspector, conformance) against a real Sluice
	@bash scripts/clients.sh

bench: ## Benchmarks: planning; schema snapshot; MCP queries against pgbench, audit on and off; audit search (prints figures)
	cargo bench -p query --features testing --bench plan
	TEST_DATABASE_URL="$$(scripts/pg.sh admin-url)" cargo bench -p server --bench snapshot --bench mcp --bench audit --bench audit_write

fmt: ## Format the code
	cargo fmt --all

lint: ## clippy with warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

build: ## Build the sluice binary (debug)
	cargo build --bin sluice

openapi: ## Regenerate openapi/openapi.json from the code
	cargo run -q --bin sluice -- openapi > openapi/openapi.json
	@echo "wrote openapi/openapi.json"

openapi-check: ## Fail when openapi/openapi.json differs from the generated spec
	@cargo run -q --bin sluice -- openapi | diff -u openapi/openapi.json - >/dev/null \
		|| { echo "openapi/openapi.json is out of date: run \`make openapi\` and commit it"; exit 1; }
	@echo "openapi/openapi.json is up to date"

db-stop: ## Stop the project-local PostgreSQL started under .data/ (if any)
	@scripts/pg.sh stop
