package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vmcp-dev/vmcp-operator/test/podnet"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vmcp-dev/vmcp-operator/internal/controller"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Replica is one aggregator process playing one pod of a VirtualMCPServer's Deployment.
type Replica struct {
	*Process
	Key   types.NamespacedName
	Index int
	PodIP string
	// MCPURL and AdminURL are the process's local endpoints.
	MCPURL, AdminURL string

	cluster    *Cluster
	configPath string
	backends   map[string]string
	mcpPort    int
	adminPort  int
}

// ReplicaOptions say where the binaries are and how backends are reached.
type ReplicaOptions struct {
	// VMCP is the path of the aggregator binary (bin/vmcp).
	VMCP string
	// WorkDir receives the config file and the log.
	WorkDir string
	// Backends maps backend names to the URLs the pod's environment would resolve them to.
	Backends map[string]string
}

// StartReplica runs replica index of a VirtualMCPServer from the config the operator rendered
// into its ConfigMap — only the listen addresses and backend URLs are rewritten, as the pod's
// network would — then publishes it in an EndpointSlice and in the Deployment's status, as the
// EndpointSlice and Deployment controllers would.
func (c *Cluster) StartReplica(ctx context.Context, pods *podnet.Network, key types.NamespacedName, index int, o ReplicaOptions) (*Replica, error) {
	mcpPort, err := podnet.FreePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := podnet.FreePort()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("vmcp-%s-%s-%d", key.Namespace, key.Name, index)
	r := &Replica{
		Key: key, Index: index, PodIP: pods.AllocateIP(), cluster: c, backends: o.Backends,
		mcpPort: mcpPort, adminPort: adminPort,
		configPath: filepath.Join(o.WorkDir, name+".yaml"),
		MCPURL:     fmt.Sprintf("http://127.0.0.1:%d%s", mcpPort, statusapi.PathMCP),
		AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
	}
	if err := r.SyncConfig(ctx); err != nil {
		return nil, err
	}
	// No shutdown delay: it covers a Service's endpoint propagation, and here the harness takes
	// a stopped replica out of its EndpointSlice itself.
	r.Process = NewProcess(name, o.WorkDir, o.VMCP, "serve", "--config", r.configPath, "--shutdown-delay", "0")
	if err := r.Start(); err != nil {
		return nil, err
	}
	if err := r.WaitHTTP(ctx, r.AdminURL+statusapi.PathReadyz, 30*time.Second); err != nil {
		r.Kill()
		return nil, err
	}
	pods.Route(podAddr(r.PodIP, statusapi.DefaultAdminPort), fmt.Sprintf("127.0.0.1:%d", adminPort))
	pods.Route(podAddr(r.PodIP, statusapi.DefaultMCPPort), fmt.Sprintf("127.0.0.1:%d", mcpPort))
	if err := r.Publish(ctx, true); err != nil {
		r.Kill()
		return nil, err
	}
	return r, nil
}

func podAddr(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// SyncConfig writes the operator's current rendered config for this replica, as the kubelet
// updates a mounted ConfigMap; a running aggregator reloads it.
func (r *Replica) SyncConfig(ctx context.Context) error {
	cm := &corev1.ConfigMap{}
	key := types.NamespacedName{Namespace: r.Key.Namespace, Name: r.Key.Name + "-config"}
	if err := r.cluster.Client.Get(ctx, key, cm); err != nil {
		return fmt.Errorf("get rendered config: %w", err)
	}
	cfg, err := config.Parse([]byte(cm.Data[controller.ConfigFileName]))
	if err != nil {
		return fmt.Errorf("rendered config: %w", err)
	}
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", r.mcpPort)
	cfg.AdminListen = fmt.Sprintf("127.0.0.1:%d", r.adminPort)
	for i, b := range cfg.Backends {
		if url, ok := r.backends[b.Name]; ok {
			cfg.Backends[i].URL = url
		}
	}
	data, err := config.Marshal(cfg)
	if err != nil {
		return err
	}
	// Write and rename, so the aggregator never reads a half-written file.
	tmp := r.configPath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.configPath)
}

// Publish writes this replica's EndpointSlice (ready or not) and the Deployment's ready count.
func (r *Replica) Publish(ctx context.Context, ready bool) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-%d", r.Key.Name, r.Index),
			Namespace: r.Key.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: r.Key.Name,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
				// Copied from the Service, as the EndpointSlice controller does.
				controller.LabelManagedBy: controller.ManagerName,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{r.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
		}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To(statusapi.MCPPortName), Port: ptr.To[int32](statusapi.DefaultMCPPort), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To(statusapi.AdminPortName), Port: ptr.To[int32](statusapi.DefaultAdminPort), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
	}
	c := r.cluster.Client
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing := &discoveryv1.EndpointSlice{}
		err := c.Get(ctx, types.NamespacedName{Namespace: slice.Namespace, Name: slice.Name}, existing)
		if apierrors.IsNotFound(err) {
			return c.Create(ctx, slice)
		}
		if err != nil {
			return err
		}
		existing.Labels, existing.Endpoints, existing.Ports = slice.Labels, slice.Endpoints, slice.Ports
		return c.Update(ctx, existing)
	})
	if err != nil {
		return fmt.Errorf("publish EndpointSlice: %w", err)
	}
	return r.cluster.syncDeploymentStatus(ctx, r.Key)
}

// syncDeploymentStatus sets the Deployment's ready replicas to the number of ready slices.
func (c *Cluster) syncDeploymentStatus(ctx context.Context, key types.NamespacedName) error {
	slices := &discoveryv1.EndpointSliceList{}
	if err := c.Client.List(ctx, slices, client.InNamespace(key.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: key.Name}); err != nil {
		return err
	}
	var ready int32
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := c.Client.Get(ctx, key, d); err != nil {
			return err
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		d.Status.ObservedGeneration = d.Generation
		d.Status.Replicas = max(want, ready)
		d.Status.UpdatedReplicas = d.Status.Replicas
		d.Status.ReadyReplicas = ready
		d.Status.AvailableReplicas = ready
		return c.Client.Status().Update(ctx, d)
	})
}

// Crash kills the process and marks its endpoint not ready, as the kubelet would after the
// readiness probe fails.
func (r *Replica) Crash(ctx context.Context) error {
	r.Kill()
	return r.Publish(ctx, false)
}
