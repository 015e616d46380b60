// Package kubetest starts a real Kubernetes control plane on 127.0.0.1 for tests, from the binaries that
// hack/k8s/build caches in $LOCO_CACHE/k8s/v1.36.3 (default ~/.cache/loco): no containers, no kubelet, no mocks.
//
// A cluster is etcd (v3.6, built by hack/k8s/build: Debian's 3.4.23 is too old for the apiserver's watch-list
// streams, which kwok relies on; run with --unsafe-no-fsync) and kube-apiserver (RBAC, token authentication, service-account keys generated with Go's crypto, its own CA and
// serving certificate), all on free loopback ports, plus on request:
//
//   - kube-controller-manager (Options.ControllerManager): StatefulSet and ReplicaSet controllers create pods, the
//     garbage collector and namespace controller clean up, default ServiceAccounts and kube-root-ca.crt appear,
//     PersistentVolumeClaims bind to PersistentVolumes;
//   - kube-scheduler (Options.Scheduler): pods get a node;
//   - kwok (Options.Nodes > 0, which implies the scheduler): Options.Nodes fake Nodes named kwok-node-0..N-1 that
//     report Ready; pods bound to them become Running and Ready with a loopback pod IP from 127.2.0.0/16 and the
//     node IP 127.0.0.1 as status.hostIP. Nothing actually runs in those pods, and the endpoint controllers
//     cannot publish loopback addresses, so Services get no endpoints for them (clients use the pods directly).
//
// Start(t, opts) is for tests: it fails the test when the cluster cannot start and stops everything in t.Cleanup
// (printing the tail of every component's log when the test failed). Launch(ctx, opts) is the plain form: the caller
// calls Cluster.Stop. hack/k8s/up uses it for manual work.
//
// The Cluster gives:
//
//   - Kubeconfig: the path of an admin kubeconfig (user "admin", group system:masters, bearer token); use it with
//     client-go (clientcmd.BuildConfigFromFlags("", c.Kubeconfig)) or kubectl;
//   - Server, CAFile, AdminToken, Dir (a temporary directory removed by Stop), LogPath(component);
//   - Kubectl(ctx, args...) and KubectlWith(ctx, kubeconfig, args...) to run the cached kubectl;
//   - ServiceAccountKubeconfig(ctx, namespace, name): a kubeconfig with a real token for that ServiceAccount
//     (TokenRequest through `kubectl create token`), so RBAC is checked exactly as for a pod;
//   - ImpersonationKubeconfig(user, groups...): the admin's kubeconfig impersonating a user (for a ServiceAccount
//     use ServiceAccountUser(namespace, name) and ServiceAccountGroups(namespace));
//   - Apply(ctx, manifests): server-side apply as the admin;
//   - ProvisionVolumes(ctx, n, size): n PersistentVolumes without a class, for a StatefulSet's volumeClaimTemplates
//     (the cluster has no provisioner);
//   - WaitFor(ctx, what, check): poll a condition with a clear error on timeout.
//
// The package uses only the standard library, so any module of the workspace can import it without new
// dependencies. Binaries are found in $LOCO_K8S_BIN when set, else in hack/k8s/build's cache directory; when they
// are missing Launch runs hack/k8s/build (a cold build takes about 20 minutes on 2 cores).
package kubetest
