// The etcd binary is etcd v3.6 (go.etcd.io/etcd/server/v3, the version k8s.io/kubernetes v1.36.3 requires), built
// by hack/k8s/build for hack/kubetest. Debian's etcd-server 3.4.23 is too old for the apiserver's
// RequestWatchProgress (it needs etcd >= 3.4.31), without which watch-list streams fail and kwok's informers
// advance only on relists; it also lacks --unsafe-no-fsync.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
