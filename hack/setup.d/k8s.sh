# shellcheck shell=bash
# Sourced by hack/setup: the Kubernetes binaries for hack/kubetest and the deploy tests (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, kustomize, helm), built once from the Go module proxy into
# $LOCO_CACHE/k8s/<version> by hack/k8s/build (≈ 20 min cold on 2 cores, instant when cached).
step "Kubernetes binaries (hack/k8s/build)"
k8s_log="$cache/k8s-build.log"
k8s_t0=$(date +%s)
if ! "$root/hack/k8s/build" >"$k8s_log" 2>&1; then
	die "hack/k8s/build failed: see $k8s_log"
fi
if grep -qE 'built|rendered' "$k8s_log"; then
	done_step "built in $(($(date +%s) - k8s_t0))s (see $k8s_log)"
else
	done_step "present"
fi
