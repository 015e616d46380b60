# Kubernetes part (issue 7): images, manifests, and the control plane the tests run.
# The Go tests of hack/k8s and hack/kubetest run in test-go (hack module); nothing else is needed in TEST_TARGETS.
# `make manifests` and `make images` are declared in the root Makefile (hack/manifests, hack/images).

.PHONY: k8s-build k8s-up

k8s-build: ## Build (once) the cached Kubernetes binaries: etcd, apiserver, controller-manager, scheduler, kubectl, kwok, kustomize, helm.
	@hack/k8s/build

k8s-up: ## Start a local control plane with 3 kwok nodes (hack/k8s/up) and print its KUBECONFIG.
	@hack/k8s/up

LINT_TARGETS += lint-k8s

lint-k8s: ## Lint the Dockerfiles (hack/k8s Go lint) and the manifests (kustomize build, helm lint --strict).
	@echo "==> Dockerfiles (containers/*/Dockerfile)"
	@cd hack && go test -count=1 -run 'TestDockerfile' ./k8s/
	@echo "==> manifests (kustomize build, helm lint --strict)"
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && hack/manifests "$$out" >/dev/null
