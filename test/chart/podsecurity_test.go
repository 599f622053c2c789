package chart

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// restrictedNamespace enforces the restricted Pod Security Standard through the API server's
// built-in PodSecurity admission plugin.
const restrictedNamespace = "pss-restricted"

// workload is a pod template found in a rendered object.
type workload struct {
	name string
	spec corev1.PodSpec
}

// podTemplatePaths says where each workload kind keeps its pod spec.
var podTemplatePaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

func workloadsOf(t *testing.T, objs []*unstructured.Unstructured) []workload {
	t.Helper()
	var out []workload
	for _, u := range objs {
		path, ok := podTemplatePaths[u.GetKind()]
		if !ok {
			continue
		}
		raw, found, err := unstructured.NestedMap(u.Object, path...)
		if err != nil || !found {
			t.Fatalf("%s %s: no pod spec at %v: %v", u.GetKind(), u.GetName(), path, err)
		}
		var spec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		out = append(out, workload{name: u.GetKind() + " " + u.GetName(), spec: spec})
	}
	return out
}

// restrictedViolations lists how a pod spec falls short of the restricted Pod Security Standard's
// securityContext requirements, plus a read-only root filesystem (which this project also requires).
func restrictedViolations(spec corev1.PodSpec) []string {
	var v []string
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		v = append(v, "uses host namespaces")
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		where := fmt.Sprintf("container %q", c.Name)
		// The container's runAsNonRoot wins; only when it is unset does the pod's apply.
		nonRoot := isTrue(sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && isTrue(pod.RunAsNonRoot))
		if !nonRoot {
			v = append(v, where+": runAsNonRoot is not true (pod or container)")
		}
		if uid := firstNonNil(sc.RunAsUser, pod.RunAsUser); uid != nil && *uid == 0 {
			v = append(v, where+": runAsUser is 0")
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = pod.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			v = append(v, where+": seccompProfile is not RuntimeDefault or Localhost (pod or container)")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			v = append(v, where+": allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			v = append(v, where+": privileged")
		}
		if !dropsAll(sc.Capabilities) {
			v = append(v, where+": capabilities.drop does not contain ALL")
		}
		if sc.Capabilities != nil {
			for _, add := range sc.Capabilities.Add {
				if add != "NET_BIND_SERVICE" {
					v = append(v, fmt.Sprintf("%s: adds capability %s", where, add))
				}
			}
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			v = append(v, where+": readOnlyRootFilesystem is not true")
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				v = append(v, fmt.Sprintf("%s: hostPort %d", where, p.HostPort))
			}
		}
	}
	for _, vol := range spec.Volumes {
		if vol.HostPath != nil {
			v = append(v, fmt.Sprintf("volume %q: hostPath", vol.Name))
		}
	}
	return v
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstNonNil(ps ...*int64) *int64 {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func dropsAll(c *corev1.Capabilities) bool {
	if c == nil {
		return false
	}
	for _, d := range c.Drop {
		if d == "ALL" {
			return true
		}
	}
	return false
}

// TestRestrictedPodSecurity checks every workload of every rendering against the restricted Pod
// Security Standard twice: field by field (with a readable message), and by creating its pod
// (dry-run) in a namespace where the API server's PodSecurity admission enforces "restricted".
func TestRestrictedPodSecurity(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			workloads := workloadsOf(t, decodeObjects(t, r.render(t)))
			if len(workloads) == 0 {
				t.Fatal("rendered no workloads")
			}
			for _, w := range workloads {
				for _, v := range restrictedViolations(w.spec) {
					t.Errorf("%s: %s", w.name, v)
				}
				if k8sClient != nil {
					admitPod(t, w)
				}
			}
		})
	}
}

// admitPod creates the workload's pod with dry-run in the restricted namespace.
func admitPod(t *testing.T, w workload) {
	t.Helper()
	ensureNamespace(t, restrictedNamespace, map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pss-", Namespace: restrictedNamespace},
		Spec:       w.spec,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k8sClient.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("%s: the API server rejects its pod in a namespace enforcing restricted: %v", w.name, err)
	}
}

// TestRestrictedViolationsDetects keeps the field checks honest: a pod spec that breaks each rule is
// reported, and the API server's PodSecurity admission rejects it too.
func TestRestrictedViolationsDetects(t *testing.T) {
	f := false
	bad := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "bad", Image: "example.com/bad:1",
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &f},
	}}}
	if got := len(restrictedViolations(bad)); got != 4 {
		t.Errorf("violations of a spec missing runAsNonRoot, seccomp, drop ALL and readOnlyRootFilesystem: got %d, want 4: %v",
			got, restrictedViolations(bad))
	}
	if k8sClient == nil {
		return
	}
	ensureNamespace(t, restrictedNamespace, map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "pss-", Namespace: restrictedNamespace}, Spec: bad}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k8sClient.Create(ctx, pod, client.DryRunAll); err == nil {
		t.Error("the API server admitted a pod that violates restricted: is PodSecurity admission off in envtest?")
	}
}
