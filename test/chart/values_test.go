package chart

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestValuesSchemaRejects: bad values fail at install time with a message that names the value.
func TestValuesSchemaRejects(t *testing.T) {
	needHelm(t)
	tests := []struct {
		name    string
		set     string
		wantErr string
	}{
		{"unknown top-level key", "imag.tag=v1", "additional properties 'imag' not allowed"},
		{"unknown nested key", "metrics.secur=false", "additional properties 'secur' not allowed"},
		{"namespace not a DNS label", "watchNamespaces={Team_A}", "/watchNamespaces/0"},
		{"duration without unit", "statusPollInterval=5", "/statusPollInterval"},
		{"bad duration", "statusPollInterval=five", "/statusPollInterval"},
		{"bad log level", "logging.level=verbose", "/logging/level"},
		{"bad log encoder", "logging.encoder=xml", "/logging/encoder"},
		{"bad pull policy", "image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"port out of range", "metrics.port=70000", "/metrics/port"},
		{"bad digest", "image.digest=latest", "/image/digest"},
		{"negative replicas", "replicaCount=-1", "/replicaCount"},
		{"service account without a name", "serviceAccount.create=false", "serviceAccount.name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runTool(t, nil, helmBin, "template", "x", chartDir, "--kube-version", kubeVersion, "--set", tt.set)
			if err == nil {
				t.Fatalf("--set %s: rendered without error", tt.set)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("--set %s: error does not mention %q:\n%v", tt.set, tt.wantErr, err)
			}
		})
	}
}

// managerArgs returns the manager container's args in the rendered Deployment.
func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	for _, w := range workloadsOf(t, objs) {
		for _, c := range w.spec.Containers {
			if c.Name == "manager" {
				if !slices.Equal(c.Command, []string{"/manager"}) {
					t.Errorf("manager command: got %v, want [/manager] (the image's entrypoint is /vmcp)", c.Command)
				}
				return c.Args
			}
		}
	}
	t.Fatal("no manager container rendered")
	return nil
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	out := map[string]int{}
	for _, u := range objs {
		out[u.GetKind()]++
	}
	return out
}

// TestChartOptions checks what each value turns on or off in the rendered objects and flags.
func TestChartOptions(t *testing.T) {
	needHelm(t)
	tests := []struct {
		name      string
		args      []string
		wantArgs  []string // manager args that must be present
		noArgs    []string // manager args (prefixes) that must be absent
		wantKinds map[string]int
	}{
		{
			name: "defaults",
			wantArgs: []string{"--leader-elect=true", "--metrics-bind-address=:8443", "--metrics-secure=true",
				"--health-probe-bind-address=:8081", "--vmcp-image=ghcr.io/vmcp-dev/vmcp-operator:v0.1.0",
				"--status-poll-interval=5s", "--zap-log-level=info", "--zap-encoder=json"},
			noArgs:    []string{"--watch-namespaces"},
			wantKinds: map[string]int{"ClusterRole": 5, "ClusterRoleBinding": 2, "Role": 1, "RoleBinding": 1, "ServiceMonitor": 0, "PodDisruptionBudget": 0},
		},
		{
			name:      "ServiceMonitor without the monitoring.coreos.com/v1 API is skipped",
			args:      []string{"--set", "serviceMonitor.enabled=true"},
			wantKinds: map[string]int{"ServiceMonitor": 0},
		},
		{
			name:      "ServiceMonitor with the API",
			args:      []string{"--set", "serviceMonitor.enabled=true", "--api-versions", "monitoring.coreos.com/v1"},
			wantKinds: map[string]int{"ServiceMonitor": 1},
		},
		{
			name:      "metrics off",
			args:      []string{"--set", "metrics.enabled=false", "--set", "serviceMonitor.enabled=true", "--api-versions", "monitoring.coreos.com/v1"},
			wantArgs:  []string{"--metrics-bind-address=0"},
			noArgs:    []string{"--metrics-secure"},
			wantKinds: map[string]int{"Service": 0, "ServiceMonitor": 0, "ClusterRole": 3, "ClusterRoleBinding": 1},
		},
		{
			name:      "plain HTTP metrics need no auth roles",
			args:      []string{"--set", "metrics.secure=false"},
			wantArgs:  []string{"--metrics-secure=false"},
			wantKinds: map[string]int{"Service": 1, "ClusterRole": 3, "ClusterRoleBinding": 1},
		},
		{
			name:      "watchNamespaces",
			args:      []string{"--set", "watchNamespaces={team-a,team-b,team-a}"},
			wantArgs:  []string{"--watch-namespaces=team-a,team-b"},
			wantKinds: map[string]int{"ClusterRole": 4, "ClusterRoleBinding": 1, "Role": 3, "RoleBinding": 3},
		},
		{
			name:      "no RBAC, existing ServiceAccount",
			args:      []string{"--set", "rbac.create=false", "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=mine"},
			wantKinds: map[string]int{"ClusterRole": 0, "ClusterRoleBinding": 0, "Role": 0, "RoleBinding": 0, "ServiceAccount": 0},
		},
		{
			name:     "digest and a separate aggregator image",
			args:     []string{"--set", "image.digest=sha256:" + strings.Repeat("ab", 32), "--set", "vmcpImage=example.com/vmcp:1"},
			wantArgs: []string{"--vmcp-image=example.com/vmcp:1"},
		},
		{
			name:      "leader election off",
			args:      []string{"--set", "leaderElection.enabled=false"},
			wantArgs:  []string{"--leader-elect=false"},
			wantKinds: map[string]int{"Role": 0, "RoleBinding": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := decodeObjects(t, helmTemplate(t, tt.args...))
			args := managerArgs(t, objs)
			for _, want := range tt.wantArgs {
				if !slices.Contains(args, want) {
					t.Errorf("manager args %v lack %s", args, want)
				}
			}
			for _, prefix := range tt.noArgs {
				for _, a := range args {
					if strings.HasPrefix(a, prefix) {
						t.Errorf("manager args contain %s", a)
					}
				}
			}
			got := kinds(objs)
			for kind, n := range tt.wantKinds {
				if got[kind] != n {
					t.Errorf("%s objects: got %d, want %d", kind, got[kind], n)
				}
			}
		})
	}
}

// TestChartCRDsInSync: the chart installs the CRD controller-gen generates (`make manifests` copies
// it; `make verify` fails on drift). Checked here too, so that a chart edit alone cannot break it.
func TestChartCRDsInSync(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, base := range bases {
		want, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(repoRoot, chartDir, "crds", filepath.Base(base)))
		if err != nil {
			t.Fatalf("chart lacks %s: run `make manifests`: %v", filepath.Base(base), err)
		}
		if string(got) != string(want) {
			t.Errorf("%s/crds/%s differs from config/crd/bases: run `make manifests`", chartDir, filepath.Base(base))
		}
	}
}

// TestHelmLifecycle installs the chart into the envtest API server for real, upgrades it to every
// option on (which also switches RBAC from cluster-wide to per-namespace), and uninstalls it.
func TestHelmLifecycle(t *testing.T) {
	needHelm(t)
	needCluster(t)
	const ns = "vmcp-lifecycle"
	for _, n := range []string{"team-a", "team-b"} {
		ensureNamespace(t, n, nil)
	}
	helm := func(args ...string) string {
		t.Helper()
		out, _, err := runTool(t, nil, helmBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := helm("install", "lifecycle", chartDir, "--namespace", ns, "--create-namespace", "--wait=false")
	for _, want := range []string{"STATUS: deployed", "kubectl get vmcp", "all namespaces"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install output lacks %q:\n%s", want, out)
		}
	}
	out = helm("upgrade", "lifecycle", chartDir, "--namespace", ns, "--values", allOnValues)
	for _, want := range []string{"STATUS: deployed", "REVISION: 2", "team-a, team-b"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm upgrade output lacks %q:\n%s", want, out)
		}
	}
	helm("uninstall", "lifecycle", "--namespace", ns, "--wait")
	if out := helm("list", "--all-namespaces", "--short"); strings.Contains(out, "lifecycle") {
		t.Errorf("release still listed after uninstall:\n%s", out)
	}
}

// TestReadmeDocumentsValues: the chart README's values table names every value in values.yaml (or
// a parent of it, for free-form maps like resources), and nothing that is not there.
func TestReadmeDocumentsValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range tableKey.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	if len(documented) == 0 {
		t.Fatal("README.md has no values table")
	}
	var leaves []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			leaves = append(leaves, prefix)
			return
		}
		for k, child := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), child)
		}
	}
	walk("", values)
	known := map[string]bool{}
	for _, leaf := range leaves {
		found := false
		for p := leaf; p != ""; p = parentKey(p) {
			known[p] = true
			found = found || documented[p]
		}
		if !found {
			t.Errorf("README.md values table does not document %s", leaf)
		}
	}
	for key := range documented {
		if !known[key] {
			t.Errorf("README.md documents %s, which values.yaml does not have", key)
		}
	}
}

// tableKey matches the first column of a values table row: | `key` | ...
var tableKey = regexp.MustCompile("(?m)^\\| `([A-Za-z0-9.]+)` \\|")

func parentKey(key string) string {
	i := strings.LastIndex(key, ".")
	if i < 0 {
		return ""
	}
	return key[:i]
}
