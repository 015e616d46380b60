package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodTarget(t *testing.T) {
	now := metav1.NewTime(time.Now())
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	notReady := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	for _, tc := range []struct {
		name    string
		pod     corev1.Pod
		ordinal int32
		ready   bool
		reason  string
		addr    string
	}{
		{"running ready", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-3"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready, PodIP: "10.0.0.3"}}, 3, true, "", "10.0.0.3"},
		{"pod-index label wins", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x-9", Labels: map[string]string{podIndexLabel: "4"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}, 4, true, "", ""},
		{"pending", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-0"}}, 0, false, "pod pending", ""},
		{"running not ready", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: notReady}}, 1, false, "pod not ready", ""},
		{"running without conditions", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}, 1, false, "pod not ready", ""},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-2", DeletionTimestamp: &now},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}, 2, false, "pod terminating", ""},
		{"failed", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator-5"},
			Status: corev1.PodStatus{Phase: corev1.PodFailed}}, 5, false, "pod failed", ""},
		{"no ordinal", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "standalone"}}, -1, false, "pod pending", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PodTarget(&tc.pod)
			if got.ID != tc.pod.Name || got.Ordinal != tc.ordinal || got.Workload.Ready != tc.ready || got.Reason != tc.reason ||
				got.Workload.Address != tc.addr || got.Workload.Pod != tc.pod.Name {
				t.Errorf("got %+v (workload %v)", got, got.Workload)
			}
		})
	}
}
