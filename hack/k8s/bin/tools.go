//go:build tools

// Package bin pins the Kubernetes control plane commands for hack/k8s/build. The blank imports only keep
// `go mod tidy` honest; main packages cannot be imported by a build, so hack/k8s/build runs
// `go build <package path>` once per binary inside this module.
package bin

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
