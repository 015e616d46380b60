package k8s

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
)

// parityKinds are compared between a kustomize overlay and the Helm render meant to match it.
var parityKinds = []string{"ServiceAccount", "Role", "RoleBinding", "Service", "StatefulSet", "Deployment",
	"PodDisruptionBudget", "NetworkPolicy", "PersistentVolumeClaim", "ServiceMonitor"}

// parity lists the differences between two renders of the same deployment: which objects exist, and for each
// workload's containers the env names, ports, probes, resources and security context, and the pod's security
// context and volumes' names. Labels, generated names and values known to differ (the Helm selector also matches
// its release) are not compared.
func parity(a, b []object) []string {
	index := func(objs []object) map[string]object {
		m := map[string]object{}
		for _, o := range objs {
			kind, _ := o["kind"].(string)
			if !slices.Contains(parityKinds, kind) {
				continue
			}
			meta, _ := o["metadata"].(object)
			m[fmt.Sprintf("%s/%v", kind, meta["name"])] = o
		}
		return m
	}
	ia, ib := index(a), index(b)
	var diffs []string
	for _, k := range sortedKeys(ia) {
		if _, ok := ib[k]; !ok {
			diffs = append(diffs, "only in kustomize: "+k)
		}
	}
	for _, k := range sortedKeys(ib) {
		oa, ok := ia[k]
		if !ok {
			diffs = append(diffs, "only in helm: "+k)
			continue
		}
		sa, sb := podSpecOf(oa), podSpecOf(ib[k])
		if sa == nil || sb == nil {
			continue
		}
		if d := diffField(k+" pod securityContext", sa["securityContext"], sb["securityContext"]); d != "" {
			diffs = append(diffs, d)
		}
		if d := diffField(k+" volumes", names(list(sa["volumes"])), names(list(sb["volumes"]))); d != "" {
			diffs = append(diffs, d)
		}
		ca, cb := list(sa["containers"]), list(sb["containers"])
		if len(ca) != len(cb) {
			diffs = append(diffs, fmt.Sprintf("%s: %d containers vs %d", k, len(ca), len(cb)))
			continue
		}
		for i := range ca {
			for _, f := range []string{"ports", "livenessProbe", "readinessProbe", "startupProbe", "resources",
				"securityContext", "volumeMounts"} {
				if d := diffField(fmt.Sprintf("%s container %v %s", k, ca[i]["name"], f), ca[i][f], cb[i][f]); d != "" {
					diffs = append(diffs, d)
				}
			}
			if d := diffField(fmt.Sprintf("%s container %v env names", k, ca[i]["name"]),
				names(list(ca[i]["env"])), names(list(cb[i]["env"]))); d != "" {
				diffs = append(diffs, d)
			}
		}
	}
	return diffs
}

func diffField(what string, a, b any) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return fmt.Sprintf("%s differ:\n  kustomize %s\n  helm      %s", what, ja, jb)
}

func names(objs []object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, fmt.Sprint(o["name"]))
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]object) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
