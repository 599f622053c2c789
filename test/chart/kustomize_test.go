package chart

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// managerContainer returns the manager container of the one rendered workload.
func managerContainer(t *testing.T, manifests string) corev1.Container {
	t.Helper()
	workloads := workloadsOf(t, decodeObjects(t, manifests))
	if len(workloads) != 1 {
		t.Fatalf("rendered %d workloads, want 1", len(workloads))
	}
	for _, c := range workloads[0].spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	t.Fatalf("%s has no manager container", workloads[0].name)
	return corev1.Container{}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestKustomizeImage: config/default runs /manager from the operator image and passes the same
// image as the default aggregator image; `make deploy IMG=...`'s overlay changes both.
func TestKustomizeImage(t *testing.T) {
	tests := []struct {
		name, img string // img empty: render config/default as it is
		want      string
	}{
		{name: "config/default", want: "ghcr.io/vmcp-dev/vmcp-operator:latest"},
		{name: "tag", img: "registry.example.com:5000/team/vmcp-operator:v1.2.3", want: "registry.example.com:5000/team/vmcp-operator:v1.2.3"},
		{name: "no tag", img: "registry.example.com/vmcp", want: "registry.example.com/vmcp:latest"},
		{
			name: "digest",
			img:  "registry.example.com/vmcp@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want: "registry.example.com/vmcp@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := "config/default"
			if tt.img != "" {
				if _, _, err := runTool(t, nil, "make", "--no-print-directory", "-s", "deploy-overlay", "IMG="+tt.img); err != nil {
					t.Fatal(err)
				}
				dir = "bin/deploy-overlay"
			}
			c := managerContainer(t, kustomizeBuild(t, dir))
			if c.Image != tt.want {
				t.Errorf("manager image: got %q, want %q", c.Image, tt.want)
			}
			if got := envValue(c, "VMCP_IMAGE"); got != tt.want {
				t.Errorf("VMCP_IMAGE (default aggregator image): got %q, want %q", got, tt.want)
			}
			if !slices.Equal(c.Command, []string{"/manager"}) {
				t.Errorf("command: got %v, want [/manager] (the image's entrypoint is /vmcp)", c.Command)
			}
			for _, arg := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081", "--vmcp-image=$(VMCP_IMAGE)"} {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("args %v lack %s", c.Args, arg)
				}
			}
		})
	}
}
