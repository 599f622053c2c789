package controller

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/test/podnet"
)

// Timeouts for Eventually/Consistently in this suite.
const (
	timeout  = 20 * time.Second
	interval = 100 * time.Millisecond
)

var (
	cfg        *rest.Config
	k8sClient  client.Client
	testEnv    *envtest.Environment
	reconciler *VirtualMCPServerReconciler
	writes     *writeCounter
	reconciles *reconcileCounter
	testClock  *clocktesting.FakeClock
	suiteCtx   context.Context
	suiteStop  context.CancelFunc
	testScheme = runtime.NewScheme()
	// podNetwork routes the pod addresses written in EndpointSlices to local test servers (the
	// API server refuses loopback addresses in EndpointSlices).
	podNetwork = podnet.New()
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	suiteCtx, suiteStop = context.WithCancel(context.Background())

	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(vmcpv1alpha1.AddToScheme(testScheme))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// `go test` run by hand: use what `make envtest` built.
		testEnv.BinaryAssetsDirectory = filepath.Join("..", "..", "bin", "k8s")
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(nil),
	})
	Expect(err).NotTo(HaveOccurred())

	writes = newWriteCounter()
	testClock = clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reconciler = &VirtualMCPServerReconciler{
		Client:       writes.wrap(mgr.GetClient()),
		APIReader:    mgr.GetAPIReader(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("vmcp-operator"),
		Clock:        testClock,
		DefaultImage: "example.com/vmcp:test",
		// Long enough that no timed poll happens during a spec: specs that poll call Reconcile.
		StatusPollInterval: time.Hour,
		HTTPClient:         podNetwork.HTTPClient(),
	}
	reconciles = &reconcileCounter{inner: reconciler, counts: map[types.NamespacedName]int{}}
	Expect(reconciler.setupWithManager(mgr, reconciles)).To(Succeed())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(suiteCtx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	suiteStop()
	Expect(testEnv.Stop()).To(Succeed())
})

// writeCounter counts the writes the reconciler issues, per namespace, so specs can assert that
// a steady state writes nothing.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newWriteCounter() *writeCounter { return &writeCounter{counts: map[string]int{}} }

func (w *writeCounter) add(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[obj.GetNamespace()]++
}

// In returns the number of writes so far to objects in a namespace.
func (w *writeCounter) In(namespace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[namespace]
}

func (w *writeCounter) wrap(c client.Client) client.Client { return &countingClient{Client: c, w: w} }

// countingClient counts writes and passes everything through; reads stay cached.
type countingClient struct {
	client.Client
	w *writeCounter
}

func (c *countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.w.add(obj)
	return c.Client.Create(ctx, obj, opts...)
}

func (c *countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.w.add(obj)
	return c.Client.Update(ctx, obj, opts...)
}

func (c *countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.w.add(obj)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c *countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.w.add(obj)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c *countingClient) Status() client.SubResourceWriter {
	return &countingStatusWriter{SubResourceWriter: c.Client.Status(), w: c.w}
}

type countingStatusWriter struct {
	client.SubResourceWriter
	w *writeCounter
}

func (s *countingStatusWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.w.add(obj)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

func (s *countingStatusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.w.add(obj)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// reconcileCounter counts the reconciles the manager runs per object.
type reconcileCounter struct {
	inner  reconcile.Reconciler
	mu     sync.Mutex
	counts map[types.NamespacedName]int
}

func (c *reconcileCounter) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	c.mu.Lock()
	c.counts[req.NamespacedName]++
	c.mu.Unlock()
	return c.inner.Reconcile(ctx, req)
}

// Of returns how many times the manager reconciled an object.
func (c *reconcileCounter) Of(namespace, name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[types.NamespacedName{Namespace: namespace, Name: name}]
}

// newNamespace creates a namespace for one spec and deletes it afterwards.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "vmcp-test-"}}
	Expect(k8sClient.Create(suiteCtx, ns)).To(Succeed())
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), ns))).To(Succeed())
	})
	return ns.Name
}
