package k8s

import (
	"fmt"
	"slices"
	"strings"
)

// The project's pod policy, checked on objects as the apiserver would store them (server-side dry-run output, so
// defaults are filled in). Every container (init containers too):
//   - is not privileged, does not allow privilege escalation, adds no capabilities and drops ALL;
//   - runs as non-root (runAsNonRoot true and no runAsUser 0, at pod or container level) with a RuntimeDefault or
//     Localhost seccomp profile;
//   - has CPU and memory requests and a memory limit;
//   - has a liveness and a readiness probe (init containers excepted);
//   - uses a pinned image (a tag other than latest, or a digest).
// Pods use no host network, PID or IPC namespace and no hostPath volume; the only hostPort allowed is the WebRTC
// port (8443). Exemptions name one workload and say why.

// allowedHostPort is the agents' ICE mux port, published per pod in the local and dev overlays.
const allowedHostPort = 8443

// policyExemptions: "namespace/kind/name" -> the rules it may break (and why, in deploy/extras/nfs-server).
var policyExemptions = map[string][]string{
	// A kernel NFS server must be privileged and run as root; opt-in, in its own namespace.
	"loco-nfs/Deployment/loco-nfs": {"privileged", "root", "escalation", "capabilities", "seccomp"},
}

type object = map[string]any

// violation is one broken rule.
type violation struct {
	Object string // namespace/kind/name
	Rule   string
	Detail string
}

func (v violation) String() string { return v.Object + ": " + v.Rule + ": " + v.Detail }

// checkPolicy returns the violations in objs (items of a List), exemptions applied.
func checkPolicy(objs []object) []violation {
	var out []violation
	for _, o := range objs {
		kind, _ := o["kind"].(string)
		spec := podSpecOf(o)
		if spec == nil {
			continue
		}
		meta, _ := o["metadata"].(object)
		id := fmt.Sprintf("%v/%s/%v", meta["namespace"], kind, meta["name"])
		for _, v := range checkPodSpec(spec) {
			if slices.Contains(policyExemptions[id], v.Rule) {
				continue
			}
			v.Object = id
			out = append(out, v)
		}
	}
	return out
}

// podSpecOf finds the pod spec of a workload, or nil.
func podSpecOf(o object) object {
	spec, _ := o["spec"].(object)
	switch o["kind"] {
	case "Pod":
		return spec
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		tmpl, _ := spec["template"].(object)
		ps, _ := tmpl["spec"].(object)
		return ps
	case "CronJob":
		jt, _ := spec["jobTemplate"].(object)
		js, _ := jt["spec"].(object)
		tmpl, _ := js["template"].(object)
		ps, _ := tmpl["spec"].(object)
		return ps
	}
	return nil
}

func checkPodSpec(spec object) []violation {
	var out []violation
	add := func(rule, format string, args ...any) {
		out = append(out, violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if spec[f] == true {
			add("host-namespaces", "%s: true", f)
		}
	}
	for _, v := range list(spec["volumes"]) {
		if _, ok := v["hostPath"]; ok {
			add("host-path", "volume %v is a hostPath", v["name"])
		}
	}
	podSC, _ := spec["securityContext"].(object)
	type c struct {
		obj  object
		init bool
	}
	var containers []c
	for _, ct := range list(spec["initContainers"]) {
		containers = append(containers, c{ct, true})
	}
	for _, ct := range list(spec["containers"]) {
		containers = append(containers, c{ct, false})
	}
	if len(containers) == 0 {
		add("containers", "no containers")
	}
	for _, ct := range containers {
		name := fmt.Sprintf("container %v", ct.obj["name"])
		sc, _ := ct.obj["securityContext"].(object)
		if sc["privileged"] == true {
			add("privileged", "%s is privileged", name)
		}
		if sc["allowPrivilegeEscalation"] != false {
			add("escalation", "%s: allowPrivilegeEscalation is not false", name)
		}
		caps, _ := sc["capabilities"].(object)
		if added := list2(caps["add"]); len(added) > 0 {
			add("capabilities", "%s adds capabilities %v", name, added)
		}
		if !slices.Contains(list2(caps["drop"]), "ALL") {
			add("capabilities", "%s does not drop ALL capabilities", name)
		}
		nonRoot := pick(sc, podSC, "runAsNonRoot")
		user := pick(sc, podSC, "runAsUser")
		if nonRoot != true || user == float64(0) {
			add("root", "%s may run as root (runAsNonRoot %v, runAsUser %v)", name, nonRoot, user)
		}
		seccomp, _ := pick(sc, podSC, "seccompProfile").(object)
		if t := seccomp["type"]; t != "RuntimeDefault" && t != "Localhost" {
			add("seccomp", "%s: seccomp profile %v", name, t)
		}
		res, _ := ct.obj["resources"].(object)
		req, _ := res["requests"].(object)
		lim, _ := res["limits"].(object)
		if req["cpu"] == nil || req["memory"] == nil || lim["memory"] == nil {
			add("resources", "%s lacks cpu/memory requests or a memory limit (%v)", name, res)
		}
		if !ct.init && (ct.obj["livenessProbe"] == nil || ct.obj["readinessProbe"] == nil) {
			add("probes", "%s lacks a liveness or readiness probe", name)
		}
		image, _ := ct.obj["image"].(string)
		if !pinned(image) {
			add("image", "%s: image %q is not pinned to a tag or digest", name, image)
		}
		for _, p := range list(ct.obj["ports"]) {
			if hp, ok := p["hostPort"].(float64); ok && hp != 0 && hp != allowedHostPort {
				add("host-port", "%s publishes hostPort %v", name, hp)
			}
		}
	}
	return out
}

// pinned reports whether image names a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	tag := ""
	if i := strings.LastIndex(image, ":"); i > slash {
		tag = image[i+1:]
	}
	return tag != "" && tag != "latest"
}

// pick returns the container-level field, else the pod-level one.
func pick(container, pod object, key string) any {
	if v, ok := container[key]; ok {
		return v
	}
	return pod[key]
}

func list(v any) []object {
	items, _ := v.([]any)
	out := make([]object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(object); ok {
			out = append(out, o)
		}
	}
	return out
}

func list2(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
