# Benchmarks (hack/bench): `make bench` measures our WebRTC path beside noVNC and writes docs/benchmarks.md;
# `make test` runs a short smoke run that checks the harness still produces every figure.
BENCH_TARGETS += bench-run
TEST_TARGETS += test-bench-smoke

.PHONY: bench-run test-bench-smoke

bench-run:
	@mkdir -p hack/bench/out
	@LOCO_BENCH_COMMAND="make bench" node hack/bench/bench.mjs --out docs/benchmarks.md --json hack/bench/out/bench.json
	@echo "==> wrote docs/benchmarks.md (raw figures: hack/bench/out/bench.json)"

test-bench-smoke:
	@echo "==> bench smoke run"
	@node --test hack/bench/smoke.test.mjs
