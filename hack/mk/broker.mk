# Broker (issue 4, helper broker): broker/ (cmd/loco-broker, cmd/lococtl, internal/*).
# Its tests run in test-go: unit tests, WHEP conformance with Pion peers, a broker restarted mid-session, lococtl
# and the Ops/health gRPC services, a real kube-apiserver (hack/kubetest) for discovery, RBAC and recovery, a
# StatefulSet recovered with kube-controller-manager and kwok, and the real loco-agent on loco-vncsynth.
#   make fuzz-broker   the WHEP handler and SSE encoding fuzzers for FUZZTIME each (default 20s); also in make test
#                      for BROKER_FUZZTIME (default 10s)
#   make bench-broker  WHEP set-up rate (fake and real agents) and the 1,000-instance scale run (RSS, CPU, SSE rate)
TEST_TARGETS += test-broker-fuzz
BENCH_TARGETS += bench-broker

FUZZTIME ?= 20s
BROKER_FUZZTIME ?= 10s

.PHONY: fuzz-broker test-broker-fuzz bench-broker

fuzz-broker: ## Run the broker's fuzzers (WHEP handler, SSE encoding) for FUZZTIME each.
	@cd broker && for f in FuzzWHEP FuzzWriteEvent; do go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./internal/httpapi/ || exit 1; done

test-broker-fuzz:
	@echo "==> broker fuzzers ($(BROKER_FUZZTIME) each)"
	@cd broker && for f in FuzzWHEP FuzzWriteEvent; do go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(BROKER_FUZZTIME) ./internal/httpapi/ || exit 1; done

bench-broker: ## Broker benchmarks: WHEP sessions/s through the broker, RSS and CPU with 1,000 agents and 20 SSE viewers.
	@echo "==> broker benchmarks"
	@cd broker && go test -run '^$$' -bench 'WHEPSetup' -benchtime 100x ./internal/daemon/
	@cd broker && go test -run '^$$' -bench 'BrokerScale' -benchtime 1x ./internal/daemon/
	@cd broker && go test -count=1 -run 'TestKubernetes$$/discovery' -v ./internal/daemon/ | grep -E 'SSE event|^(ok|FAIL|---)'
