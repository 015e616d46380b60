# Demo guest, QEMU supervision and the local runner (issue 6).
#   make guest        build the demo guest (Debian kernel + static Go init) into $LOCO_CACHE/guest/<hash>/
#   make run          (root Makefile) hack/run: broker + N agents, each supervising QEMU with the demo guest
#   make bench-guest  boot-to-first-frame and QEMU CPU of one animated and one still demo instance
# The tests (agent/internal/qemu, agent/internal/pulse, hack/guest/...) are plain Go tests and run in test-go;
# they build the guest themselves through hack/guest/build (cached).
BENCH_TARGETS += bench-guest

.PHONY: guest bench-guest

guest: ## Build the demo guest into the cache and print its directory.
	@hack/guest/build

bench-guest:
	@echo "==> demo guest: boot time and QEMU CPU per instance (TCG unless KVM works)"
	@cd agent && go test -count=1 -run '^$$' -bench BenchmarkDemoGuest -benchtime=1x ./internal/qemu/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
