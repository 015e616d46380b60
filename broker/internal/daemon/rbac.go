package daemon

import rbacv1 "k8s.io/api/rbac/v1"

// RequiredRules is every Kubernetes permission the broker uses, in its namespace: discovery lists and watches pods
// (the informer) and recovery deletes one and records an events.k8s.io Event about it. "get" on pods is granted
// for operators' tools (kubectl describe through the broker's account) and kept in the Role of deploy/base.
func RequiredRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create"}},
	}
}
