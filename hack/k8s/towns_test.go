package k8s

import (
	"fmt"
	"slices"
)

// What the agent's "towns" features need from a deployment (docs/api.md: --netplay-listen, --netplay-peers,
// --art-dir), checked on objects as the apiserver would store them:
//   - the emulator container sets LOCO_NETPLAY_LISTEN=":7400" and LOCO_NETPLAY_PEERS=<headless Service>:7400, and
//     declares the UDP containerPort 7400 named "netplay" (no hostPort);
//   - that Service is the StatefulSet's headless Service, selects the emulator pods and publishes not-ready
//     addresses (towns find each other while their guests boot);
//   - LOCO_ART_DIR is the mount path of the "art" volume;
//   - the NetworkPolicies let emulator pods reach each other on UDP 7400 (an ingress and an egress rule naming the
//     emulator pods), and no ingress rule of a policy selecting the emulators admits UDP 7400 from anything broader
//     than emulator pods of the same namespace.

// netplayPort is the network play switch's UDP port in every deployment.
const netplayPort = 7400

// checkTowns returns what is wrong with the network play and art configuration of a render's objects.
func checkTowns(objs []object) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var sts object
	for _, o := range objs {
		if o["kind"] == "StatefulSet" {
			sts = o
		}
	}
	if sts == nil {
		return []string{"no StatefulSet"}
	}
	spec, _ := sts["spec"].(object)
	tmpl, _ := spec["template"].(object)
	tmplMeta, _ := tmpl["metadata"].(object)
	podLabels := stringMap(tmplMeta["labels"])
	pod := podSpecOf(sts)
	agent := namedItem(list(pod["containers"]), "agent")
	if agent == nil {
		return []string{"no agent container"}
	}
	env := map[string]any{}
	for _, e := range list(agent["env"]) {
		env[fmt.Sprint(e["name"])] = e["value"]
	}

	// Network play: env, port, Service.
	if got := env["LOCO_NETPLAY_LISTEN"]; got != fmt.Sprintf(":%d", netplayPort) {
		bad("LOCO_NETPLAY_LISTEN = %v, want \":%d\"", got, netplayPort)
	}
	svcName, _ := spec["serviceName"].(string)
	if got := env["LOCO_NETPLAY_PEERS"]; got != fmt.Sprintf("%s:%d", svcName, netplayPort) {
		bad("LOCO_NETPLAY_PEERS = %v, want the headless Service %q with port %d", got, svcName, netplayPort)
	}
	port := namedItem(list(agent["ports"]), "netplay")
	switch {
	case port == nil:
		bad("the agent container has no port named netplay")
	case port["containerPort"] != float64(netplayPort) || port["protocol"] != "UDP":
		bad("port netplay is %v/%v, want %d/UDP", port["containerPort"], port["protocol"], netplayPort)
	case port["hostPort"] != nil:
		bad("port netplay is published on the node (hostPort %v)", port["hostPort"])
	}
	svc := find(objs, "Service", svcName)
	if svc == nil {
		bad("no Service %q (the StatefulSet's serviceName)", svcName)
	} else {
		ss, _ := svc["spec"].(object)
		if ss["clusterIP"] != "None" {
			bad("Service %s is not headless (clusterIP %v): its name would resolve to one address", svcName, ss["clusterIP"])
		}
		if ss["publishNotReadyAddresses"] != true {
			bad("Service %s does not publish not-ready addresses: booting towns would not find each other", svcName)
		}
		if !selects(stringMap(ss["selector"]), podLabels) {
			bad("Service %s selector %v does not select the emulator pods %v", svcName, ss["selector"], podLabels)
		}
	}

	// Art: LOCO_ART_DIR is where the art volume is mounted.
	art := namedItem(list(agent["volumeMounts"]), "art")
	switch {
	case art == nil:
		bad("the agent container does not mount the art volume")
	case env["LOCO_ART_DIR"] != art["mountPath"]:
		bad("LOCO_ART_DIR = %v, want the art volume's mount path %v", env["LOCO_ART_DIR"], art["mountPath"])
	}
	if namedItem(list(pod["volumes"]), "art") == nil {
		bad("no art volume")
	}

	// NetworkPolicies selecting the emulator pods.
	var ingressOK, egressOK bool
	for _, np := range objs {
		if np["kind"] != "NetworkPolicy" {
			continue
		}
		ns, _ := np["spec"].(object)
		if !selectorSelects(ns["podSelector"], podLabels) {
			continue
		}
		name := fmt.Sprint(np["metadata"].(object)["name"])
		for i, rule := range list(ns["ingress"]) {
			if !admitsNetplay(rule, port) {
				continue
			}
			peers := list(rule["from"])
			narrow := len(peers) > 0
			for _, p := range peers {
				narrow = narrow && emulatorsOnly(p, podLabels)
			}
			if !narrow {
				bad("NetworkPolicy %s ingress rule %d admits UDP %d from more than the emulator pods (from %v)",
					name, i, netplayPort, rule["from"])
				continue
			}
			ingressOK = true
		}
		for _, rule := range list(ns["egress"]) {
			if !admitsNetplay(rule, port) {
				continue
			}
			for _, p := range list(rule["to"]) {
				if emulatorsOnly(p, podLabels) {
					egressOK = true
				}
			}
		}
	}
	if !ingressOK {
		bad("no NetworkPolicy ingress rule admits UDP %d from the emulator pods", netplayPort)
	}
	if !egressOK {
		bad("no NetworkPolicy egress rule names the emulator pods for UDP %d", netplayPort)
	}
	return problems
}

// admitsNetplay reports whether a NetworkPolicy rule's ports include UDP 7400: no ports (all), a UDP port 7400, a
// range over it, or the container port's name.
func admitsNetplay(rule, containerPort object) bool {
	ports := list(rule["ports"])
	if _, set := rule["ports"]; !set {
		return true
	}
	for _, p := range ports {
		if proto, _ := p["protocol"].(string); proto != "" && proto != "UDP" {
			continue
		}
		switch v := p["port"].(type) {
		case nil:
			return true
		case float64:
			end, ok := p["endPort"].(float64)
			if !ok {
				end = v
			}
			if v <= netplayPort && netplayPort <= end {
				return true
			}
		case string:
			if containerPort != nil && v == containerPort["name"] {
				return true
			}
		}
	}
	return false
}

// emulatorsOnly reports whether a NetworkPolicy peer is exactly "emulator pods of this namespace": a podSelector
// naming the emulator component, no namespaceSelector, no ipBlock.
func emulatorsOnly(peer object, podLabels map[string]string) bool {
	sel, ok := peer["podSelector"].(object)
	if !ok || peer["namespaceSelector"] != nil || peer["ipBlock"] != nil || len(list(sel["matchExpressions"])) > 0 {
		return false
	}
	ml := stringMap(sel["matchLabels"])
	return ml["app.kubernetes.io/component"] == "emulator" && selects(ml, podLabels)
}

// selectorSelects reports whether a label selector (matchLabels; matchExpressions count as matching, to err on
// the side of checking) selects pods with these labels.
func selectorSelects(selector any, labels map[string]string) bool {
	sel, _ := selector.(object)
	return selects(stringMap(sel["matchLabels"]), labels)
}

// selects reports whether every label of want is in labels.
func selects(want, labels map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func stringMap(v any) map[string]string {
	m, _ := v.(object)
	out := make(map[string]string, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}

// namedItem returns the item of a list with that name, or nil.
func namedItem(items []object, name string) object {
	i := slices.IndexFunc(items, func(o object) bool { return o["name"] == name })
	if i < 0 {
		return nil
	}
	return items[i]
}

// townsMutations break one thing each in a correct render; checkTowns must then report a problem containing want.
var townsMutations = []struct {
	name, want string
	mutate     func(objs []object)
}{
	{"ingress from anywhere", "from more than the emulator pods", func(objs []object) {
		delete(netplayIngress(objs), "from")
	}},
	{"ingress from emulators of every namespace", "from more than the emulator pods", func(objs []object) {
		list(netplayIngress(objs)["from"])[0]["namespaceSelector"] = object{}
	}},
	{"an extra rule opening every port to an address block", "from more than the emulator pods", func(objs []object) {
		np := netplayPolicy(objs)["spec"].(object)
		np["ingress"] = append(np["ingress"].([]any), object{"from": []any{object{"ipBlock": object{"cidr": "0.0.0.0/0"}}}})
	}},
	{"no network play ingress", "no NetworkPolicy ingress rule admits", func(objs []object) {
		list(netplayIngress(objs)["ports"])[0]["protocol"] = "TCP"
	}},
	{"no network play egress", "no NetworkPolicy egress rule", func(objs []object) {
		np := netplayPolicy(objs)["spec"].(object)
		var keep []any
		for _, r := range list(np["egress"]) {
			if !admitsNetplay(r, nil) || len(list(r["to"])) == 0 {
				keep = append(keep, r)
			}
		}
		np["egress"] = keep
	}},
	{"not-ready pods unpublished", "does not publish not-ready addresses", func(objs []object) {
		for _, o := range objs {
			if o["kind"] == "Service" && o["spec"].(object)["clusterIP"] == "None" {
				delete(o["spec"].(object), "publishNotReadyAddresses")
			}
		}
	}},
	{"peers without the port", "LOCO_NETPLAY_PEERS", func(objs []object) { setAgentEnv(objs, "LOCO_NETPLAY_PEERS", "loco-emulator") }},
	{"listen elsewhere", "LOCO_NETPLAY_LISTEN", func(objs []object) { setAgentEnv(objs, "LOCO_NETPLAY_LISTEN", ":7401") }},
	{"art dir not the mount", "LOCO_ART_DIR", func(objs []object) { setAgentEnv(objs, "LOCO_ART_DIR", "/var/lib/loco") }},
	{"netplay port over TCP", "port netplay is", func(objs []object) {
		namedItem(list(agentOf(objs)["ports"]), "netplay")["protocol"] = "TCP"
	}},
}

// netplayPolicy is the NetworkPolicy holding the network play ingress rule.
func netplayPolicy(objs []object) object {
	for _, o := range objs {
		if o["kind"] != "NetworkPolicy" {
			continue
		}
		for _, r := range list(o["spec"].(object)["ingress"]) {
			if admitsNetplay(r, nil) && len(list(r["from"])) > 0 {
				return o
			}
		}
	}
	return nil
}

// netplayIngress is the network play ingress rule.
func netplayIngress(objs []object) object {
	for _, r := range list(netplayPolicy(objs)["spec"].(object)["ingress"]) {
		if admitsNetplay(r, nil) && len(list(r["from"])) > 0 {
			return r
		}
	}
	return nil
}

func agentOf(objs []object) object {
	for _, o := range objs {
		if o["kind"] == "StatefulSet" {
			return namedItem(list(podSpecOf(o)["containers"]), "agent")
		}
	}
	return nil
}

func setAgentEnv(objs []object, name, value string) {
	namedItem(list(agentOf(objs)["env"]), name)["value"] = value
}
