package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
)

// Requeue intervals.
const (
	// DefaultStatusPollInterval is how often the aggregator replicas' /status is read.
	DefaultStatusPollInterval = 5 * time.Second
	// requeueNotAvailable polls while no aggregator pod is ready yet. Deployment status changes
	// also trigger a reconcile; this is only the safety net.
	requeueNotAvailable = 30 * time.Second
	// requeueStale retries soon after a write failed because the cache was behind.
	requeueStale = time.Second
)

// VirtualMCPServerReconciler runs the aggregator of each VirtualMCPServer and writes its status.
type VirtualMCPServerReconciler struct {
	client.Client
	// APIReader reads around the cache, which holds only objects labeled as the operator's
	// (see CacheOptions); nil means every object is in the cache.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	// Clock is the source of "now" for condition transition times.
	Clock clock.PassiveClock
	// DefaultImage is the aggregator image used when spec.image is empty.
	DefaultImage string
	// StatusPollInterval is how often the aggregator replicas' /status is read.
	StatusPollInterval time.Duration
	// StatusTimeout bounds one /status request (DefaultStatusTimeout when zero).
	StatusTimeout time.Duration
	// HTTPClient reads /status; nil uses a shared client with keep-alive.
	HTTPClient *http.Client
	// MaxConcurrentReconciles lets polls of many objects overlap (1 when zero).
	MaxConcurrentReconciles int
	// ClusterDomain is the cluster's DNS suffix (DefaultClusterDomain when empty).
	ClusterDomain string
}

func (r *VirtualMCPServerReconciler) clusterDomain() string {
	if r.ClusterDomain != "" {
		return r.ClusterDomain
	}
	return DefaultClusterDomain
}

// scope carries what one reconcile has learned between its phases.
type scope struct {
	vmcp       *vmcpv1alpha1.VirtualMCPServer
	now        metav1.Time
	rendered   *Rendered
	deployment *appsv1.Deployment
	// renderErr means the spec could not be turned into a config; nothing was applied.
	renderErr error
	// applyErr is the first failure to create or update an owned object.
	applyErr error
	// view is what the aggregator replicas reported; nil when none was asked or answered.
	view *backendView
}

// +kubebuilder:rbac:groups=vmcp.dev,resources=virtualmcpservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=vmcp.dev,resources=virtualmcpservers/status,verbs=get;patch
// Owner references with blockOwnerDeletion need update on the owner's finalizers subresource
// where the OwnerReferencesPermissionEnforcement admission plugin is on (e.g. OpenShift).
// +kubebuilder:rbac:groups=vmcp.dev,resources=virtualmcpservers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;serviceaccounts;services,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch

// Reconcile brings the objects of one VirtualMCPServer in line with its spec and records what
// it observed in the status, writing the status only when it changed.
func (r *VirtualMCPServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	vmcp := &vmcpv1alpha1.VirtualMCPServer{}
	if err := r.Get(ctx, req.NamespacedName, vmcp); err != nil {
		if apierrors.IsNotFound(err) {
			forgetMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vmcp.DeletionTimestamp.IsZero() {
		// Owned objects go with it through garbage collection.
		return ctrl.Result{}, nil
	}
	before := vmcp.DeepCopy()
	s := &scope{vmcp: vmcp, now: metav1.NewTime(r.Clock.Now())}

	r.applyObjects(ctx, s)
	if isTransient(s.applyErr) {
		// Our cache lags behind our own writes or someone else's; try again shortly without
		// reporting a failure nobody needs to act on.
		log.V(1).Info("Retrying after a stale read", "error", s.applyErr.Error())
		return ctrl.Result{RequeueAfter: requeueStale}, nil
	}
	if s.applyErr != nil {
		r.Recorder.Eventf(vmcp, nil, corev1.EventTypeWarning, vmcpv1alpha1.EventReconcileFailed, "Reconcile", "%s", truncate(s.applyErr.Error(), maxMessageLength))
	}
	// Observe even when the spec could not be applied: the aggregator keeps serving the last
	// config it was given, and the status should say how that is going.
	if err := r.observe(ctx, s); err != nil && s.applyErr == nil {
		s.applyErr = err
	}

	r.computeStatus(s)
	if err := r.patchStatus(ctx, before, vmcp); err != nil {
		if isTransient(err) {
			return ctrl.Result{RequeueAfter: requeueStale}, nil
		}
		return ctrl.Result{}, errors.Join(s.applyErr, err)
	}
	// Only after the write succeeded: a reconcile that started from a stale copy computes the
	// same transitions again, but its optimistic-lock patch fails and it records nothing.
	r.recordTransitions(before, vmcp)
	return r.result(ctx, s)
}

// applyObjects renders the config and writes the owned objects, stopping at the first failure.
func (r *VirtualMCPServerReconciler) applyObjects(ctx context.Context, s *scope) {
	phases := []func(context.Context, *scope) error{
		r.reconcileConfig,
		r.reconcileServiceAccount,
		r.reconcileDeployment,
		r.reconcileService,
		r.reconcilePDB,
	}
	for _, phase := range phases {
		if s.renderErr != nil || s.applyErr != nil {
			return
		}
		if err := phase(ctx, s); err != nil {
			s.applyErr = err
		}
	}
}

// observe reads what the Deployment controller and the aggregator replicas report.
func (r *VirtualMCPServerReconciler) observe(ctx context.Context, s *scope) error {
	d := &appsv1.Deployment{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.vmcp.Namespace, Name: s.vmcp.Name}, d)
	switch {
	case apierrors.IsNotFound(err):
		// Not created yet, or just created and not yet in the cache.
	case err != nil:
		return fmt.Errorf("get Deployment %s: %w", s.vmcp.Name, err)
	case metav1.IsControlledBy(d, s.vmcp):
		s.deployment = d
	}
	return r.observeBackends(ctx, s)
}

// result decides when to look again.
func (r *VirtualMCPServerReconciler) result(ctx context.Context, s *scope) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	if s.applyErr != nil {
		var notOwned *notOwnedError
		if errors.As(s.applyErr, &notOwned) {
			// Retrying will not help until a user acts; the owned-object watch and spec edits
			// bring us back.
			log.Info("Owned object conflict", "error", s.applyErr.Error())
			return ctrl.Result{RequeueAfter: requeueNotAvailable}, nil
		}
		return ctrl.Result{}, s.applyErr
	}
	if s.renderErr != nil {
		log.Info("Spec cannot be rendered; the aggregator keeps its previous config", "error", s.renderErr.Error())
	}
	switch {
	case replicas(s.vmcp) == 0:
		return ctrl.Result{}, nil
	case isTrue(s.vmcp, vmcpv1alpha1.ConditionAvailable):
		return ctrl.Result{RequeueAfter: r.pollInterval()}, nil
	default:
		return ctrl.Result{RequeueAfter: requeueNotAvailable}, nil
	}
}

func (r *VirtualMCPServerReconciler) pollInterval() time.Duration {
	if r.StatusPollInterval > 0 {
		return r.StatusPollInterval
	}
	return DefaultStatusPollInterval
}

// observeBackends asks the ready aggregator replicas how the backends are doing.
func (r *VirtualMCPServerReconciler) observeBackends(ctx context.Context, s *scope) error {
	if replicas(s.vmcp) == 0 {
		return nil
	}
	endpoints, err := r.replicaEndpoints(ctx, s.vmcp)
	if err != nil {
		return err
	}
	replicas := r.fetchStatuses(ctx, endpoints)
	for _, rs := range replicas {
		if rs.Err != nil {
			pollErrors.WithLabelValues(s.vmcp.Namespace, s.vmcp.Name).Inc()
			logf.FromContext(ctx).V(1).Info("Aggregator replica did not answer", "endpoint", rs.Endpoint, "error", rs.Err.Error())
		}
	}
	s.view = mergeReplicas(s.vmcp, r.clusterDomain(), replicas)
	return nil
}

// recordTransitions turns per-backend changes between the stored and the new status into Events.
func (r *VirtualMCPServerReconciler) recordTransitions(before, after *vmcpv1alpha1.VirtualMCPServer) {
	for _, e := range backendTransitions(before.Status.Backends, after.Status.Backends) {
		typ := corev1.EventTypeNormal
		if e.Warning {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, typ, e.Reason, "BackendStatus", "%s", truncate(e.Message, maxMessageLength))
	}
}

func (r *VirtualMCPServerReconciler) reconcileConfig(ctx context.Context, s *scope) error {
	rendered, err := Render(s.vmcp, r.clusterDomain())
	if err != nil {
		s.renderErr = err
		return nil
	}
	s.rendered = rendered
	cm := desiredConfigMap(s.vmcp, rendered)
	return ensure(ctx, r, s.vmcp, "ConfigMap", ownedObject[*corev1.ConfigMap]{
		desired: cm,
		content: cm.Data,
		drifted: func(existing, desired *corev1.ConfigMap) bool {
			return !equality.Semantic.DeepEqual(existing.Data, desired.Data)
		},
		copyInto: func(existing, desired *corev1.ConfigMap) { existing.Data = desired.Data },
	})
}

func (r *VirtualMCPServerReconciler) reconcileServiceAccount(ctx context.Context, s *scope) error {
	sa := desiredServiceAccount(s.vmcp)
	return ensure(ctx, r, s.vmcp, "ServiceAccount", ownedObject[*corev1.ServiceAccount]{
		desired: sa,
		content: sa.AutomountServiceAccountToken,
		drifted: func(existing, desired *corev1.ServiceAccount) bool {
			return notDerivative(desired.AutomountServiceAccountToken, existing.AutomountServiceAccountToken)
		},
		copyInto: func(existing, desired *corev1.ServiceAccount) {
			existing.AutomountServiceAccountToken = desired.AutomountServiceAccountToken
		},
	})
}

func (r *VirtualMCPServerReconciler) reconcileDeployment(ctx context.Context, s *scope) error {
	image := s.vmcp.Spec.Image
	if image == "" {
		image = r.DefaultImage
	}
	d := desiredDeployment(s.vmcp, s.rendered, image)
	return ensure(ctx, r, s.vmcp, "Deployment", ownedObject[*appsv1.Deployment]{
		desired: d,
		content: d.Spec,
		drifted: func(existing, desired *appsv1.Deployment) bool {
			return notDerivative(desired.Spec.Template, existing.Spec.Template) ||
				*desired.Spec.Replicas != *existing.Spec.Replicas
		},
		copyInto: func(existing, desired *appsv1.Deployment) {
			// The selector is immutable and never changes; everything else is ours.
			existing.Spec.Replicas = desired.Spec.Replicas
			existing.Spec.Template = desired.Spec.Template
		},
	})
}

func (r *VirtualMCPServerReconciler) reconcileService(ctx context.Context, s *scope) error {
	svc := desiredService(s.vmcp)
	return ensure(ctx, r, s.vmcp, "Service", ownedObject[*corev1.Service]{
		desired: svc,
		content: svc.Spec,
		drifted: func(existing, desired *corev1.Service) bool {
			return notDerivative(withAllocated(desired.Spec, existing.Spec), existing.Spec)
		},
		copyInto: func(existing, desired *corev1.Service) {
			existing.Spec = withAllocated(desired.Spec, existing.Spec)
		},
	})
}

// withAllocated returns the desired Service spec completed with what the API server allocated
// or defaulted in the existing one (cluster IPs, node ports, load balancer class, ...), so that
// comparing and updating never fight over those fields.
func withAllocated(desired, existing corev1.ServiceSpec) corev1.ServiceSpec {
	out := *desired.DeepCopy()
	out.ClusterIP = existing.ClusterIP
	out.ClusterIPs = existing.ClusterIPs
	out.IPFamilies = existing.IPFamilies
	out.IPFamilyPolicy = existing.IPFamilyPolicy
	out.InternalTrafficPolicy = existing.InternalTrafficPolicy
	if existing.Type != out.Type {
		return out
	}
	out.HealthCheckNodePort = existing.HealthCheckNodePort
	out.ExternalTrafficPolicy = existing.ExternalTrafficPolicy
	out.LoadBalancerClass = existing.LoadBalancerClass
	out.AllocateLoadBalancerNodePorts = existing.AllocateLoadBalancerNodePorts
	nodePorts := map[string]int32{}
	for _, p := range existing.Ports {
		nodePorts[p.Name] = p.NodePort
	}
	for i := range out.Ports {
		out.Ports[i].NodePort = nodePorts[out.Ports[i].Name]
	}
	return out
}

// reconcilePDB keeps a PodDisruptionBudget while there is more than one replica, so voluntary
// disruptions never take every aggregator down at once, and removes it otherwise.
func (r *VirtualMCPServerReconciler) reconcilePDB(ctx context.Context, s *scope) error {
	pdb := desiredPDB(s.vmcp)
	if replicas(s.vmcp) <= 1 {
		existing := &policyv1.PodDisruptionBudget{}
		err := r.Get(ctx, client.ObjectKeyFromObject(pdb), existing)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("get PodDisruptionBudget %s: %w", pdb.Name, err)
		case !metav1.IsControlledBy(existing, s.vmcp):
			return nil
		}
		if err := r.Delete(ctx, existing); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete PodDisruptionBudget %s: %w", pdb.Name, err)
		}
		return nil
	}
	return ensure(ctx, r, s.vmcp, "PodDisruptionBudget", ownedObject[*policyv1.PodDisruptionBudget]{
		desired: pdb,
		content: pdb.Spec,
		drifted: func(existing, desired *policyv1.PodDisruptionBudget) bool {
			return notDerivative(desired.Spec, existing.Spec)
		},
		copyInto: func(existing, desired *policyv1.PodDisruptionBudget) { existing.Spec = desired.Spec },
	})
}

// patchStatus writes the status only when it changed, as a merge patch guarded by the
// resourceVersion so that a concurrent change is retried rather than overwritten.
func (r *VirtualMCPServerReconciler) patchStatus(ctx context.Context, before, after *vmcpv1alpha1.VirtualMCPServer) error {
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, after, patch); err != nil {
		return fmt.Errorf("patch status of %s: %w", klog.KObj(after), err)
	}
	statusPatches.WithLabelValues(after.Namespace, after.Name).Inc()
	return nil
}

// serviceOfEndpointSlice maps an EndpointSlice to the VirtualMCPServer named like its Service.
// Slices of other Services map to objects that do not exist, which reconcile to nothing.
func serviceOfEndpointSlice(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

func (r *VirtualMCPServerReconciler) concurrency() int {
	if r.MaxConcurrentReconciles > 0 {
		return r.MaxConcurrentReconciles
	}
	return 1
}

// isTransient reports errors caused by a stale cache or a concurrent writer: the next
// reconcile, with fresh reads, resolves them.
func isTransient(err error) bool {
	return err != nil && (apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err))
}

// SetupWithManager registers the reconciler. Only spec changes (generation) of the
// VirtualMCPServer trigger it, so its own status writes do not; changes of owned objects do.
func (r *VirtualMCPServerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.setupWithManager(mgr, r)
}

// setupWithManager registers rec (r, or a test wrapper around it) for r's watches.
func (r *VirtualMCPServerReconciler) setupWithManager(mgr ctrl.Manager, rec reconcile.Reconciler) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&vmcpv1alpha1.VirtualMCPServer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		// A replica appearing, becoming ready or going away changes whom to ask.
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(serviceOfEndpointSlice)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.concurrency()}).
		Named("virtualmcpserver").
		Complete(rec)
}
