package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
)

// Scheme knows the built-in kinds and VirtualMCPServer.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(vmcpv1alpha1.AddToScheme(Scheme))
}

// Cluster is a local control plane: kube-apiserver and etcd (the envtest binaries), the CRD
// installed, and a kubeconfig for kubectl.
type Cluster struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Client     client.Client
	Kubeconfig string
	kubectl    string
}

// ClusterOptions locate what a Cluster needs.
type ClusterOptions struct {
	// RepoRoot is the repository root (for config/crd/bases and bin/).
	RepoRoot string
	// WorkDir receives the kubeconfig.
	WorkDir string
}

// StartCluster starts the control plane and installs the CRD. KUBEBUILDER_ASSETS selects the
// binaries; without it, RepoRoot/bin/k8s (what `make envtest` builds) is used.
func StartCluster(o ClusterOptions) (*Cluster, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(o.RepoRoot, "bin", "k8s")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(o.RepoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	c := &Cluster{Env: env, Config: cfg, kubectl: filepath.Join(assets, "kubectl")}
	if c.Client, err = client.New(cfg, client.Options{Scheme: Scheme}); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("client: %w", err)
	}
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("add kubectl user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	c.Kubeconfig = filepath.Join(o.WorkDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return c, nil
}

// Stop stops the control plane.
func (c *Cluster) Stop() error { return c.Env.Stop() }

// KubectlPath is the kubectl binary matching the control plane.
func (c *Cluster) KubectlPath() string { return c.kubectl }

// Kubectl runs kubectl against the cluster and returns its combined output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kubectl %v: %w: %s", args, err, out.String())
	}
	return out.String(), nil
}
