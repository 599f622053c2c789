package chart

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const (
	// managerStartTimeout bounds how long the manager may take to reconcile the sample.
	managerStartTimeout = 90 * time.Second
	pollInterval        = 250 * time.Millisecond
)

var vmcpGVK = schema.GroupVersionKind{Group: "vmcp.dev", Version: "v1alpha1", Kind: "VirtualMCPServer"}

// forbiddenLog matches the API server's RBAC denials as client-go and controller-runtime log them.
var forbiddenLog = regexp.MustCompile(`(?i)forbidden|cannot (list|watch|get|create|update|patch|delete) resource`)

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestManagerRunsWithInstalledRBAC runs the real manager binary, with the flags an install renders,
// as the install's ServiceAccount with nothing but the install's RBAC: the chart in watchNamespaces
// mode (Roles only) and kustomize config/default (the generated ClusterRole). It must reconcile a
// VirtualMCPServer without a single RBAC denial, ignore one outside its watched namespaces, and serve
// metrics only to a caller bound to the metrics-reader ClusterRole.
func TestManagerRunsWithInstalledRBAC(t *testing.T) {
	needCluster(t)
	manager := buildManager(t)
	tests := []struct {
		name      string
		render    func(t *testing.T) string
		watched   string
		unwatched string // empty: the install watches every namespace
		// metricsReader is the ClusterRole that may scrape the metrics endpoint.
		metricsReader string
	}{
		{
			name: "helm, watchNamespaces",
			render: func(t *testing.T) string {
				needHelm(t)
				out, _, err := runTool(t, nil, helmBin, "template", "runas", chartDir, "--namespace", "vmcp-runas",
					"--kube-version", kubeVersion, "--set", "watchNamespaces={runas-apps}")
				if err != nil {
					t.Fatal(err)
				}
				return out
			},
			watched:       "runas-apps",
			unwatched:     "runas-other",
			metricsReader: "runas-vmcp-operator-metrics-reader",
		},
		{
			name:          "kustomize",
			render:        func(t *testing.T) string { return kustomizeBuild(t, "config/default") },
			watched:       "runas-kustomize",
			metricsReader: "vmcp-operator-metrics-reader",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := decodeObjects(t, tt.render(t))
			sa := serviceAccountOf(t, objs)
			ns, saName, _ := strings.Cut(sa, "/")
			for _, n := range []string{ns, tt.watched, tt.unwatched} {
				if n != "" {
					ensureNamespace(t, n, nil)
				}
			}
			applyRBAC(t, objs)

			// The install's flags, then overrides for running outside a pod: local ports, and no leader
			// election (it needs the in-cluster namespace file; TestServiceAccountPermissions covers its RBAC).
			probePort, metricsPort := freePort(t), freePort(t)
			args := append(managerArgs(t, objs),
				"--leader-elect=false",
				fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
				fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
				"--zap-encoder=console")
			for i, a := range args { // the kubelet expands $(VMCP_IMAGE) from the container's env
				args[i] = strings.ReplaceAll(a, "$(VMCP_IMAGE)", "example.com/vmcp:test")
			}
			logs := startManager(t, manager, serviceAccountKubeconfig(t, ns, saName), args)

			inWatched := createSample(t, tt.watched)
			waitFor(t, "the manager to reconcile the VirtualMCPServer in "+tt.watched, logs, func(ctx context.Context) (bool, error) {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(vmcpGVK)
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(inWatched), u); err != nil {
					return false, err
				}
				observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
				if observed != u.GetGeneration() {
					return false, nil
				}
				return ownedCount(ctx, t, tt.watched, u.GetUID()) >= 4, nil // ConfigMap, ServiceAccount, Service, Deployment
			})
			scaleAndWaitForPDB(t, logs, inWatched, 2, 1)
			scaleAndWaitForPDB(t, logs, inWatched, 1, 0)

			if tt.unwatched != "" {
				inOther := createSample(t, tt.unwatched)
				time.Sleep(2 * time.Second) // long enough for a watching manager to create objects
				if n := ownedCount(context.Background(), t, tt.unwatched, inOther.GetUID()); n != 0 {
					t.Errorf("the manager created %d objects for a VirtualMCPServer in unwatched namespace %s", n, tt.unwatched)
				}
			}

			checkMetricsAuth(t, tt.metricsReader, ns, metricsPort)

			if lines := forbiddenLog.FindAllString(logs.String(), -1); len(lines) > 0 {
				t.Errorf("the manager hit RBAC denials (the install's RBAC or config/rbac/role.yaml lacks a rule)")
			}
		})
	}
}

// scaleAndWaitForPDB sets spec.replicas and waits for the reconciler to create or delete the
// PodDisruptionBudget (one exists only with more than one replica), which exercises its policy rules.
func scaleAndWaitForPDB(t *testing.T, logs *lockedBuffer, obj *unstructured.Unstructured, replicas int64, wantPDBs int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	if err := k8sClient.Patch(ctx, obj.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("scale %s to %d: %v", obj.GetName(), replicas, err)
	}
	waitFor(t, fmt.Sprintf("%d PodDisruptionBudget(s) at %d replicas", wantPDBs, replicas), logs, func(ctx context.Context) (bool, error) {
		return ownedCount(ctx, t, obj.GetNamespace(), obj.GetUID(), pdbList) == wantPDBs, nil
	})
}

// buildManager builds cmd/manager into a temporary directory.
func buildManager(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "manager")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/manager: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// serviceAccountToken issues a short-lived token for a ServiceAccount (TokenRequest API).
func serviceAccountToken(t *testing.T, namespace, name string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the ServiceAccount.
func serviceAccountKubeconfig(t *testing.T, namespace, name string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: serviceAccountToken(t, namespace, name)}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa", Namespace: namespace}
	cfg.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// startManager runs the manager until the test ends and returns its collected output.
func startManager(t *testing.T, bin, kubeconfigPath string, args []string) *lockedBuffer {
	t.Helper()
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("manager output:\n%s", logs.String())
		}
	})
	return logs
}

// createSample creates the repository's sample VirtualMCPServer in the namespace.
func createSample(t *testing.T, namespace string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", "vmcp_v1alpha1_virtualmcpserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(namespace)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatalf("create sample VirtualMCPServer in %s: %v", namespace, err)
	}
	return u
}

// ownedLists are the kinds the reconciler always creates for a VirtualMCPServer.
var ownedLists = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMapList"},
	{Version: "v1", Kind: "ServiceAccountList"},
	{Version: "v1", Kind: "ServiceList"},
	{Group: "apps", Version: "v1", Kind: "DeploymentList"},
}

var pdbList = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudgetList"}

// ownedCount counts the objects of the listed kinds (default: ownedLists) in the namespace that the
// object with the given UID owns.
func ownedCount(ctx context.Context, t *testing.T, namespace string, owner types.UID, lists ...schema.GroupVersionKind) int {
	t.Helper()
	if len(lists) == 0 {
		lists = ownedLists
	}
	n := 0
	for _, gvk := range lists {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk)
		if err := k8sClient.List(ctx, list, client.InNamespace(namespace)); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			for _, ref := range item.GetOwnerReferences() {
				if ref.UID == owner {
					n++
				}
			}
		}
	}
	return n
}

// waitFor polls cond until it holds or managerStartTimeout passes.
func waitFor(t *testing.T, what string, logs *lockedBuffer, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(managerStartTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if forbiddenLog.MatchString(logs.String()) {
			t.Fatalf("the manager hit RBAC denials while waiting for %s", what)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(pollInterval)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", managerStartTimeout, what, lastErr)
}

// checkMetricsAuth scrapes the manager's HTTPS metrics endpoint as a ServiceAccount bound to the
// install's metrics-reader ClusterRole (allowed) and as one without it (forbidden).
func checkMetricsAuth(t *testing.T, readerRole, namespace string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"scraper", "stranger"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		if err := k8sClient.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: readerRole + "-" + namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: readerRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: namespace}},
	}
	if err := k8sClient.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{
		Timeout: 5 * time.Second,
		// The endpoint serves a self-signed certificate, as in a cluster (hence insecureSkipVerify in the ServiceMonitor).
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // self-signed test endpoint
	}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", port), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		return resp.StatusCode, body.String()
	}
	scraperToken, strangerToken := serviceAccountToken(t, namespace, "scraper"), serviceAccountToken(t, namespace, "stranger")
	// RBAC bindings reach the authorizer's cache within a moment; retry briefly.
	var code int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(pollInterval) {
		if code, body = scrape(scraperToken); code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK || !strings.Contains(body, "controller_runtime_reconcile_total") {
		t.Errorf("scrape as a metrics reader: got HTTP %d, want 200 with controller-runtime metrics:\n%.500s", code, body)
	}
	if code, body := scrape(strangerToken); code != http.StatusForbidden {
		t.Errorf("scrape without the metrics-reader role: got HTTP %d, want 403:\n%.500s", code, body)
	}
	// controller-runtime answers an unverifiable token with 500 (its TokenReview returns an error),
	// an unauthenticated request with 401: either way, no metrics.
	if code, _ := scrape("not-a-token"); code == http.StatusOK {
		t.Errorf("scrape with a bad token: got HTTP %d, want it rejected", code)
	}
}
