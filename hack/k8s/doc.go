// Package k8s holds the tests of Loco Cluster's Kubernetes side against a real control plane (hack/kubetest):
// every kustomize overlay and the Helm chart are rendered (hack/manifests) and accepted by a real kube-apiserver
// (server-side dry-run), checked against the project's pod policy, the local overlay reaches Ready on kwok nodes,
// and the broker's ServiceAccount can do exactly what its Role grants. It also lints the Dockerfiles in
// containers/. The binaries come from hack/k8s/build (the bin/ folder is the separate module that builds them).
package k8s
