package chart

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// warningLine matches the warnings the API server returns (deprecated APIs, unknown fields dropped,
// PodSecurity "would violate"), which kubectl prints on stderr.
var warningLine = regexp.MustCompile(`(?m)^Warning: .*$`)

// lastAppliedWarning is kubectl's own note when it client-side applies to an object that exists
// already without its annotation (the namespaces and CRDs this suite creates up front): not a problem
// of the manifests.
const lastAppliedWarning = "is missing the kubectl.kubernetes.io/last-applied-configuration annotation"

// TestServerSideDryRun applies every rendering with `kubectl apply --dry-run=server` to the envtest
// API server: the API server validates every object (schemas, CRD structural rules, RBAC
// references, strict field validation) without storing it.
func TestServerSideDryRun(t *testing.T) {
	needCluster(t)
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			manifests := r.render(t)
			if len(decodeObjects(t, manifests)) == 0 {
				t.Fatal("rendered no objects")
			}
			for _, ns := range r.namespaces {
				ensureNamespace(t, ns, nil)
			}
			file := filepath.Join(t.TempDir(), "manifests.yaml")
			if err := os.WriteFile(file, []byte(manifests), 0o600); err != nil {
				t.Fatal(err)
			}
			modes := map[string][]string{
				"client-side apply": {"apply", "--dry-run=server", "-f", file},
				"server-side apply": {"apply", "--dry-run=server", "--server-side", "--field-manager=chart-test", "-f", file},
			}
			for mode, args := range modes {
				out, stderr, err := runTool(t, nil, kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				var w []string
				for _, line := range warningLine.FindAllString(stderr, -1) {
					if !strings.Contains(line, lastAppliedWarning) {
						w = append(w, line)
					}
				}
				if len(w) > 0 {
					t.Errorf("%s: API server warnings:\n%s", mode, strings.Join(w, "\n"))
				}
				if !strings.Contains(out, "(server dry run)") {
					t.Errorf("%s: output does not look like a server dry run:\n%s", mode, out)
				}
			}
		})
	}
}
