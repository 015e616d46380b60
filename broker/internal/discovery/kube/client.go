package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Client talks to the Kubernetes API about the only kinds the broker uses: pods, and events.k8s.io/v1 Events. It is
// client-go's REST client with a scheme of just those kinds. (The generated clientset registers every API group of
// Kubernetes when the program starts and links all their code: some 7 MB of the broker's resident memory, for two
// kinds.)
type Client struct {
	core   rest.Interface
	events rest.Interface
}

// NewClient creates a Client from a client-go configuration (in-cluster, or from a kubeconfig).
func NewClient(cfg *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, eventsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("kubernetes scheme: %w", err)
		}
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	restClient := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = codecs
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		rc, err := rest.RESTClientFor(c)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client for %s: %w", gv, err)
		}
		return rc, nil
	}
	core, err := restClient(corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	events, err := restClient(eventsv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	return &Client{core: core, events: events}, nil
}

// DeletePod deletes a pod, only if it still has the given UID (a pod recreated under the same name is left alone).
func (c *Client) DeletePod(ctx context.Context, namespace, name string, uid types.UID) error {
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	return c.core.Delete().Namespace(namespace).Resource("pods").Name(name).Body(opts).Do(ctx).Error()
}

// CreateEvent records an events.k8s.io/v1 Event in its namespace.
func (c *Client) CreateEvent(ctx context.Context, ev *eventsv1.Event) error {
	return c.events.Post().Namespace(ev.Namespace).Resource("events").Body(ev).Do(ctx).Error()
}

// pods lists and watches the pods in namespace that match the label selector.
func (c *Client) pods(namespace, selector string) cache.ListerWatcher {
	return cache.NewFilteredListWatchFromClient(c.core, "pods", namespace,
		func(o *metav1.ListOptions) { o.LabelSelector = selector })
}
