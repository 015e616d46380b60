// Package kube is the Kubernetes source of discovery: a client-go shared informer on the emulator pods (one LIST,
// then a WATCH; never polling). Every pod matching the selector is a Target; it is ready when it is Running, Ready
// and not terminating, and its grid position is its StatefulSet ordinal.
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// podIndexLabel is set by the StatefulSet controller (Kubernetes 1.28+) to the pod's ordinal.
const podIndexLabel = "apps.kubernetes.io/pod-index"

// Source discovers emulator pods with a shared informer: one LIST, then a WATCH. Every pod that matches the
// selector is a Target; it is ready when it is Running, Ready and not terminating.
type Source struct {
	client    *Client
	namespace string
	selector  string
	log       *slog.Logger
}

// New builds the source for pods in namespace matching the label selector.
func New(client *Client, namespace, selector string, log *slog.Logger) *Source {
	return &Source{client: client, namespace: namespace, selector: selector, log: log}
}

// Run starts the informer and reports pod changes to sink until ctx is done.
func (k *Source) Run(ctx context.Context, sink discovery.Sink, synced func()) error {
	// No resync: a resync would only replay the cache, and every real change arrives by watch.
	inf := cache.NewSharedIndexInformer(k.client.pods(k.namespace, k.selector), &corev1.Pod{}, 0, cache.Indexers{})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				sink.Upsert(PodTarget(p))
			}
		},
		UpdateFunc: func(_, obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				sink.Upsert(PodTarget(p))
			}
		},
		DeleteFunc: func(obj any) {
			switch o := obj.(type) {
			case *corev1.Pod:
				sink.Remove(o.Name, "pod deleted")
			case cache.DeletedFinalStateUnknown:
				_, name, _ := strings.Cut(o.Key, "/")
				sink.Remove(name, "pod deleted")
			}
		},
	})
	if err != nil {
		return fmt.Errorf("pod informer handler: %w", err)
	}
	stopped := make(chan struct{})
	go func() { inf.Run(ctx.Done()); close(stopped) }()
	defer func() { <-stopped }()
	start := time.Now()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		if ctx.Err() != nil {
			return nil // stopped before the first listing completed
		}
		return fmt.Errorf("namespace %q selector %q: %w", k.namespace, k.selector, ErrNotSynced)
	}
	k.log.Info("kubernetes discovery synced", "namespace", k.namespace, "selector", k.selector,
		"pods", len(inf.GetStore().ListKeys()), "took", time.Since(start).Round(time.Millisecond))
	synced()
	<-ctx.Done()
	return nil
}

// PodTarget turns a pod into a Target.
func PodTarget(p *corev1.Pod) discovery.Target {
	ready, reason := podReady(p)
	return discovery.Target{
		ID:      p.Name,
		Ordinal: podOrdinal(p),
		UID:     string(p.UID),
		Reason:  reason,
		Workload: &locov1.Workload{
			Namespace: p.Namespace,
			Pod:       p.Name,
			Node:      p.Spec.NodeName,
			Address:   p.Status.PodIP,
			Ready:     ready,
		},
	}
}

func podReady(p *corev1.Pod) (bool, string) {
	if p.DeletionTimestamp != nil {
		return false, "pod terminating"
	}
	if p.Status.Phase != corev1.PodRunning {
		phase := string(p.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		return false, "pod " + strings.ToLower(phase)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return true, ""
			}
			break
		}
	}
	return false, "pod not ready"
}

// podOrdinal is the StatefulSet ordinal: the pod-index label, else the number after the name's last dash, else -1.
func podOrdinal(p *corev1.Pod) int32 {
	if v, ok := p.Labels[podIndexLabel]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			return int32(n)
		}
	}
	if i := strings.LastIndexByte(p.Name, '-'); i >= 0 {
		if n, err := strconv.ParseInt(p.Name[i+1:], 10, 32); err == nil {
			return int32(n)
		}
	}
	return -1
}
