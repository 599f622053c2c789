package chart

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// generatedRolePath is the ClusterRole controller-gen writes from the +kubebuilder:rbac markers.
const generatedRolePath = "config/rbac/role.yaml"

// leaderElectionID is the Lease cmd/manager elects its leader with.
const leaderElectionID = "vmcp-operator.vmcp.dev"

func loadGeneratedRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, generatedRolePath))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(b, role); err != nil {
		t.Fatalf("%s: %v", generatedRolePath, err)
	}
	if len(role.Rules) == 0 {
		t.Fatalf("%s has no rules", generatedRolePath)
	}
	return role
}

// rulesOf returns the rules of every Role and ClusterRole in objs, keyed "Kind namespace/name".
func rulesOf(t *testing.T, objs []*unstructured.Unstructured) map[string][]rbacv1.PolicyRule {
	t.Helper()
	out := map[string][]rbacv1.PolicyRule{}
	for _, u := range objs {
		if u.GetAPIVersion() != rbacv1.SchemeGroupVersion.String() || (u.GetKind() != "Role" && u.GetKind() != "ClusterRole") {
			continue
		}
		role := &rbacv1.ClusterRole{} // Role has the same rules field
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		out[fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())] = role.Rules
	}
	return out
}

// TestManagerRulesMatchGenerated keeps the chart's hand-written manager rules identical to the
// generated ClusterRole, in both the cluster-wide (ClusterRole) and the per-namespace (Role) mode,
// and checks that kustomize installs the generated file itself.
func TestManagerRulesMatchGenerated(t *testing.T) {
	want := loadGeneratedRole(t).Rules
	tests := []struct {
		name string
		// render returns the manifests; wantRoles are the roles that must carry exactly want.
		render    func(t *testing.T) string
		wantRoles []string
	}{
		{
			name:      "helm, all namespaces",
			render:    func(t *testing.T) string { return helmTemplate(t) },
			wantRoles: []string{"ClusterRole /vmcp-operator-manager"},
		},
		{
			name: "helm, watchNamespaces",
			render: func(t *testing.T) string {
				return helmTemplate(t, "--set", "watchNamespaces={team-a,team-b}")
			},
			wantRoles: []string{"Role team-a/vmcp-operator-manager", "Role team-b/vmcp-operator-manager"},
		},
		{
			name:      "kustomize config/default",
			render:    func(t *testing.T) string { return kustomizeBuild(t, "config/default") },
			wantRoles: []string{"ClusterRole /vmcp-operator-manager-role"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rulesOf(t, decodeObjects(t, tt.render(t)))
			for _, name := range tt.wantRoles {
				rules, ok := got[name]
				if !ok {
					t.Fatalf("no %s rendered; roles: %v", name, keys(got))
				}
				if diff := cmp.Diff(want, rules); diff != "" {
					t.Errorf("%s differs from %s (-generated +rendered); update the managerRules "+
						"template in charts/vmcp-operator/templates/_helpers.tpl:\n%s", name, generatedRolePath, diff)
				}
			}
			if strings.Contains(tt.name, "watchNamespaces") {
				if _, ok := got["ClusterRole /vmcp-operator-manager"]; ok {
					t.Error("watchNamespaces set, but the chart still renders the cluster-wide manager ClusterRole")
				}
			}
		})
	}
}

// TestManagerRulesAreNamespaced: with watchNamespaces the chart grants the manager rules through a
// Role per namespace, which cannot grant cluster-scoped resources. If a marker adds one, this fails
// and the chart needs a ClusterRole for that part.
func TestManagerRulesAreNamespaced(t *testing.T) {
	needCluster(t)
	for _, rule := range loadGeneratedRole(t).Rules {
		if len(rule.NonResourceURLs) > 0 {
			t.Errorf("rule %v: non-resource URLs cannot be granted by a namespaced Role", rule)
			continue
		}
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				resource, _, _ = strings.Cut(resource, "/") // subresources share their parent's scope
				gvk, err := k8sClient.RESTMapper().KindFor(schema.GroupVersionResource{Group: group, Resource: resource})
				if err != nil {
					t.Errorf("%s.%s: %v", resource, group, err)
					continue
				}
				mapping, err := k8sClient.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Errorf("%s: %v", gvk, err)
					continue
				}
				if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
					t.Errorf("%s.%s is cluster-scoped: the chart's per-namespace Roles (watchNamespaces) cannot grant it", resource, group)
				}
			}
		}
	}
}

// TestNoWildcardRules: least privilege means naming every verb, resource and API group.
func TestNoWildcardRules(t *testing.T) {
	check := func(t *testing.T, where string, rules []rbacv1.PolicyRule) {
		t.Helper()
		for i, r := range rules {
			fields := map[string][]string{
				"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs, "nonResourceURLs": r.NonResourceURLs,
			}
			for field, values := range fields {
				for _, v := range values {
					if strings.Contains(v, "*") {
						t.Errorf("%s rule %d: wildcard %q in %s", where, i, v, field)
					}
				}
			}
			if len(r.Verbs) == 0 {
				t.Errorf("%s rule %d: no verbs", where, i)
			}
		}
	}
	t.Run(generatedRolePath, func(t *testing.T) {
		check(t, generatedRolePath, loadGeneratedRole(t).Rules)
	})
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			roles := rulesOf(t, decodeObjects(t, r.render(t)))
			if len(roles) == 0 {
				t.Fatal("rendered no Roles or ClusterRoles")
			}
			for name, rules := range roles {
				check(t, name, rules)
			}
		})
	}
}

// access is one SubjectAccessReview question and its expected answer.
type access struct {
	namespace, verb, group, resource, name string
	allowed                                bool
}

// TestServiceAccountPermissions installs the RBAC objects for real and asks the API server's
// authorizer what the manager's ServiceAccount may do: the bindings must reach the ServiceAccount
// the Deployment runs as (names, prefixes and namespaces included), grant everything the generated
// ClusterRole lists where the manager works, and nothing beyond it.
func TestServiceAccountPermissions(t *testing.T) {
	needCluster(t)
	generated := loadGeneratedRole(t).Rules
	tests := []struct {
		name, namespace string
		render          func(t *testing.T) string
		// managed are namespaces where the manager rules must hold; unmanaged where they must not.
		managed, unmanaged []string
	}{
		{
			name:      "kustomize",
			namespace: releaseNamespace,
			render:    func(t *testing.T) string { return kustomizeBuild(t, "config/default") },
			managed:   []string{"default", "apps"},
		},
		{
			name:      "helm, watchNamespaces",
			namespace: "vmcp-scoped",
			render: func(t *testing.T) string {
				needHelm(t)
				out, _, err := runTool(t, nil, helmBin, "template", "scoped", chartDir, "--namespace", "vmcp-scoped",
					"--kube-version", kubeVersion, "--values", allOnValues)
				if err != nil {
					t.Fatal(err)
				}
				return out
			},
			managed:   []string{"team-a", "team-b"},
			unmanaged: []string{"default"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := decodeObjects(t, tt.render(t))
			sa := serviceAccountOf(t, objs)
			for _, ns := range append([]string{tt.namespace}, append(tt.managed, tt.unmanaged...)...) {
				ensureNamespace(t, ns, nil)
			}
			applyRBAC(t, objs)

			var checks []access
			for _, rule := range generated {
				for _, ns := range tt.managed {
					checks = append(checks, accessesFor(rule, ns, true)...)
				}
				for _, ns := range tt.unmanaged {
					checks = append(checks, accessesFor(rule, ns, false)...)
				}
			}
			checks = append(checks,
				access{namespace: tt.namespace, verb: "create", group: "coordination.k8s.io", resource: "leases", allowed: true},
				access{namespace: tt.namespace, verb: "get", group: "coordination.k8s.io", resource: "leases", name: leaderElectionID, allowed: true},
				access{namespace: tt.namespace, verb: "update", group: "coordination.k8s.io", resource: "leases", name: leaderElectionID, allowed: true},
				access{namespace: tt.namespace, verb: "update", group: "coordination.k8s.io", resource: "leases", name: "someone-else", allowed: false},
				access{namespace: tt.namespace, verb: "create", resource: "events", allowed: true},
				access{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews", allowed: true},
				access{verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews", allowed: true},
				access{namespace: "default", verb: "get", resource: "secrets", allowed: false},
				access{namespace: "default", verb: "delete", group: "vmcp.dev", resource: "virtualmcpservers", allowed: false},
				access{verb: "list", resource: "nodes", allowed: false},
			)
			for _, c := range checks {
				if got := canI(t, sa, c); got != c.allowed {
					t.Errorf("%s may %s %s.%s %q in namespace %q: got %v, want %v", sa, c.verb, c.resource, c.group, c.name, c.namespace, got, c.allowed)
				}
			}
		})
	}
}

// accessesFor expands a rule into one question per verb and resource in the namespace.
func accessesFor(rule rbacv1.PolicyRule, namespace string, allowed bool) []access {
	var out []access
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			for _, verb := range rule.Verbs {
				out = append(out, access{namespace: namespace, verb: verb, group: group, resource: resource, allowed: allowed})
			}
		}
	}
	return out
}

// serviceAccountOf returns "namespace/name" of the ServiceAccount the rendered Deployment runs as.
func serviceAccountOf(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			name, _, _ := unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
			if name == "" {
				t.Fatalf("Deployment %s sets no serviceAccountName", u.GetName())
			}
			return u.GetNamespace() + "/" + name
		}
	}
	t.Fatal("rendered no Deployment")
	return ""
}

// applyRBAC creates the ServiceAccounts, Roles, ClusterRoles and bindings among objs for real.
func applyRBAC(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, u := range objs {
		switch u.GetKind() {
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
		default:
			continue
		}
		if err := k8sClient.Create(ctx, u.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
}

// canI asks the API server whether the ServiceAccount ("namespace/name") is allowed the access.
func canI(t *testing.T, sa string, c access) bool {
	t.Helper()
	ns, name, _ := strings.Cut(sa, "/")
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + ns + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: c.namespace, Verb: c.verb, Group: c.group, Resource: c.resource, Name: c.name,
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k8sClient.Create(ctx, sar); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
