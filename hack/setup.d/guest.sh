# shellcheck shell=bash
# Sourced by hack/setup: build the demo guest (Debian kernel + the Go init in hack/guest/init) into
# $LOCO_CACHE/guest/<hash>/, so `make run` and the tests find it ready (and work offline afterwards).
# hack/guest/build returns at once when the current build is cached.
step "demo guest (hack/guest/build)"
if ! guest_dir=$(LOCO_CACHE="$cache" "$root/hack/guest/build" 2>"$cache/guest-build.log" | tail -n1) || [ -z "$guest_dir" ]; then
	die "building the demo guest failed: see $cache/guest-build.log"
fi
done_step "$guest_dir"
