# Loco Cluster: the entry points. `make help` lists them.
#
# Each part of the project keeps its own targets in hack/mk/<part>.mk and adds them to the lists below
# (TEST_TARGETS, LINT_TARGETS, BENCH_TARGETS), so this file stays short and parts don't step on each other.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

LOCO_CACHE ?= $(HOME)/.cache/loco
export LOCO_CACHE
export PATH := $(LOCO_CACHE)/bin:$(PATH)
# go-gst builds against the system GStreamer through cgo.
export CGO_ENABLED := 1

GO_MODULES := proto agent broker hack
GO_TEST_FLAGS ?= -count=1 -timeout 30m

TEST_TARGETS := test-go
LINT_TARGETS := lint-go lint-proto
BENCH_TARGETS :=

include $(sort $(wildcard hack/mk/*.mk))

.PHONY: help setup run test bench lint proto images manifests test-go lint-go lint-proto

help: ## List the targets with one line each.
	@awk -F':.*## ' '/^[a-zA-Z0-9_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install every dependency (Debian packages, Go tools, npm packages), idempotently.
	@hack/setup

run: setup ## Start a local cluster (broker + N demo instances; N=9 make run) and print its URL.
	@hack/run

test: setup ## Run every test: lint, Go unit and integration tests, web and end-to-end tests.
	@$(MAKE) --no-print-directory lint $(TEST_TARGETS)

bench: setup ## Run the benchmarks and write docs/benchmarks.md.
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)

lint: ## gofmt, go vet, staticcheck on every module; buf lint and breaking; generated code up to date.
	@$(MAKE) --no-print-directory $(LINT_TARGETS)

proto: ## Regenerate the Go code of proto/loco/v1 (committed).
	@cd proto && buf generate

images: ## Build the container images (needs a Docker engine).
	@hack/images

manifests: ## Render the kustomize overlays and the Helm chart into deploy/rendered/.
	@hack/manifests

test-go:
	@for m in $(GO_MODULES); do echo "==> go test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...); done

lint-go:
	@echo "==> gofmt"; out=$$(gofmt -l $(GO_MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(GO_MODULES); do echo "==> go vet, staticcheck $$m"; (cd $$m && go vet ./... && staticcheck ./...); done

lint-proto:
	@hack/lint-proto
