package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// chartDir is the chart under test, relative to the repository root.
	chartDir = "charts/vmcp-operator"
	// allOnValues turns on every optional feature of the chart.
	allOnValues = "charts/vmcp-operator/ci/all-on-values.yaml"
	// releaseNamespace is where the tests install the chart and where config/default installs.
	releaseNamespace = "vmcp-system"
	// kubeVersion is what `helm template` assumes; it matches the envtest binaries (hack/envtest.sh).
	kubeVersion = "1.37.2"
	// commandTimeout bounds each helm and kubectl invocation.
	commandTimeout = 2 * time.Minute
)

// Shared by every test: set up once in TestMain.
var (
	repoRoot   string
	helmBin    string // empty when no helm binary was found: helm tests skip
	kubectlBin string
	kubeconfig string        // admin kubeconfig for the envtest API server; empty when not running
	restConfig *rest.Config  // admin config for the envtest API server; nil when not running
	k8sClient  client.Client // admin client for the envtest API server; nil when not running
	skipReason string        // why the envtest-backed tests skip, when they do
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))

	var err error
	if helmBin, err = findTool("HELM", filepath.Join(repoRoot, "bin", "helm")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot, "bin", "k8s")
	}
	if kubectlBin, err = findTool("KUBECTL", filepath.Join(assets, "kubectl")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, statErr := os.Stat(filepath.Join(assets, "kube-apiserver")); statErr != nil || kubectlBin == "" {
		skipReason = fmt.Sprintf("no envtest binaries in %s: run `make test-chart`", assets)
		return m.Run()
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			filepath.Join(repoRoot, "config", "crd", "bases"),
			filepath.Join(repoRoot, "test", "chart", "testdata"),
		},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	restConfig = cfg
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	admin, err := env.AddUser(envtest.User{Name: "chart-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "add admin user: %v\n", err)
		return 1
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "admin kubeconfig: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "vmcp-chart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// findTool returns the binary named by the environment variable, or fallback if that exists, or ""
// when neither is set or present. A binary named explicitly but missing is an error, so that
// `make test-chart` never skips silently.
func findTool(envVar, fallback string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", envVar, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", nil
}

// needHelm skips the test when no helm binary is available.
func needHelm(t *testing.T) {
	t.Helper()
	if helmBin == "" {
		t.Skip("no helm binary (HELM or bin/helm): run `make test-chart`")
	}
}

// needCluster skips the test when the envtest API server is not running.
func needCluster(t *testing.T) {
	t.Helper()
	if k8sClient == nil {
		t.Skip(skipReason)
	}
}

// runTool runs a binary from the repository root and returns its stdout; stderr goes into the error.
func runTool(t *testing.T, stdin io.Reader, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// rendering is one way of producing the install manifests.
type rendering struct {
	name string
	// namespaces the objects go to, which must exist before a dry-run.
	namespaces []string
	render     func(t *testing.T) string
}

// helmTemplate renders the chart with the given extra helm arguments.
func helmTemplate(t *testing.T, args ...string) string {
	t.Helper()
	needHelm(t)
	base := []string{"template", "vmcp-operator", chartDir, "--namespace", releaseNamespace, "--kube-version", kubeVersion}
	out, _, err := runTool(t, nil, helmBin, append(base, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kustomizeBuild renders a kustomization directory with the kustomize built into kubectl.
func kustomizeBuild(t *testing.T, dir string) string {
	t.Helper()
	if kubectlBin == "" {
		t.Skip("no kubectl (KUBECTL or bin/k8s/kubectl): run `make test-chart`")
	}
	out, _, err := runTool(t, nil, kubectlBin, "kustomize", dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// renderings are the installs every test checks: the chart with default values, the chart with
// every option on (ServiceMonitor API available, CRDs included), and kustomize config/default with
// and without the Prometheus ServiceMonitor.
var renderings = []rendering{
	{
		name:       "helm/default",
		namespaces: []string{releaseNamespace},
		render: func(t *testing.T) string {
			return helmTemplate(t, "--include-crds")
		},
	},
	{
		name:       "helm/all-on",
		namespaces: []string{releaseNamespace, "team-a", "team-b"},
		render: func(t *testing.T) string {
			return helmTemplate(t, "--include-crds", "--values", allOnValues, "--api-versions", "monitoring.coreos.com/v1")
		},
	},
	{
		name:       "kustomize/default",
		namespaces: []string{releaseNamespace},
		render: func(t *testing.T) string {
			return kustomizeBuild(t, "config/default")
		},
	},
	{
		name:       "kustomize/default+prometheus",
		namespaces: []string{releaseNamespace},
		render:     renderDefaultWithPrometheus,
	},
}

// renderDefaultWithPrometheus renders config/default with the ../prometheus line uncommented, as
// its comment tells users to do, in a copy of config/.
func renderDefaultWithPrometheus(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "config")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(repoRoot, "config"))); err != nil {
		t.Fatal(err)
	}
	k := filepath.Join(dst, "default", "kustomization.yaml")
	b, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	enabled := strings.Replace(string(b), "#- ../prometheus", "- ../prometheus", 1)
	if enabled == string(b) {
		t.Fatal("config/default/kustomization.yaml has no `#- ../prometheus` line to uncomment")
	}
	if err := os.WriteFile(k, []byte(enabled), 0o600); err != nil {
		t.Fatal(err)
	}
	out := kustomizeBuild(t, filepath.Join(dst, "default"))
	if !strings.Contains(out, "kind: ServiceMonitor") {
		t.Fatal("config/default with ../prometheus renders no ServiceMonitor")
	}
	return out
}

// decodeObjects splits a multi-document YAML stream into objects, skipping empty documents.
func decodeObjects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decode manifests: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// ensureNamespace creates a namespace if it does not exist, as an installer would beforehand.
func ensureNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}
