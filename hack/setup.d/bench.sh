# hack/setup.d/bench.sh (sourced by hack/setup): npm packages of the benchmark harness (hack/bench: noVNC,
# playwright-core, gRPC), installed with `npm ci` only when hack/bench/package-lock.json changed.
bench_dir="$root/hack/bench"
step "npm packages (hack/bench/package-lock.json)"
command -v npm >/dev/null || die "npm is not on PATH (Node 20 expected)"
bench_sum=$(sha256sum "$bench_dir/package-lock.json" | cut -c1-16)
bench_stamp="$bench_dir/node_modules/.loco-stamp"
if [ -f "$bench_stamp" ] && [ "$(cat "$bench_stamp")" = "$bench_sum" ]; then
	done_step "up to date"
else
	(cd "$bench_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$cache/npm-bench.log" 2>&1 ||
		die "npm ci in hack/bench failed (offline? registry unreachable?): see $cache/npm-bench.log"
	echo "$bench_sum" >"$bench_stamp"
	done_step "installed"
fi
