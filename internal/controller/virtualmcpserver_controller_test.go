package controller

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

func sampleVMCP(namespace string) *vmcpv1alpha1.VirtualMCPServer {
	return &vmcpv1alpha1.VirtualMCPServer{
		ObjectMeta: metav1.ObjectMeta{Name: "team-tools", Namespace: namespace},
		Spec: vmcpv1alpha1.VirtualMCPServerSpec{
			Backends: []vmcpv1alpha1.Backend{
				{Name: "github", URL: "http://github-mcp.tools:8080/mcp", Tools: &vmcpv1alpha1.ToolFilter{Exclude: []string{"delete_*"}},
					Headers: []vmcpv1alpha1.Header{{Name: "Authorization", ValueFrom: vmcpv1alpha1.HeaderSource{
						SecretKeyRef: corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gh"}, Key: "token"}}}}},
				{Name: "jira", ServiceRef: &vmcpv1alpha1.ServiceReference{Name: "jira-mcp", Port: 9000}},
			},
		},
	}
}

func get[T client.Object](namespace, name string, obj T) T {
	GinkgoHelper()
	Eventually(func() error {
		return k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: namespace, Name: name}, obj)
	}).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
	return obj
}

func renderedConfig(namespace, name string) *config.Config {
	GinkgoHelper()
	cm := get(namespace, name+"-config", &corev1.ConfigMap{})
	cfg, err := config.Parse([]byte(cm.Data[ConfigFileName]))
	Expect(err).NotTo(HaveOccurred())
	return cfg
}

// markDeploymentReady plays the Deployment controller, which envtest does not run.
func markDeploymentReady(namespace, name string, ready int32) {
	GinkgoHelper()
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		d.Status.ObservedGeneration = d.Generation
		d.Status.Replicas = *d.Spec.Replicas
		d.Status.UpdatedReplicas = *d.Spec.Replicas
		d.Status.ReadyReplicas = ready
		d.Status.AvailableReplicas = ready
		return k8sClient.Status().Update(suiteCtx, d)
	}).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
}

func condition(namespace, name, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		v := &vmcpv1alpha1.VirtualMCPServer{}
		if err := k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: namespace, Name: name}, v); err != nil {
			return nil
		}
		return meta.FindStatusCondition(v.Status.Conditions, typ)
	}
}

// eventReasons lists the reasons of the Events recorded in a namespace.
func eventReasons(namespace string) func() []string {
	return func() []string {
		list := &corev1.EventList{}
		Expect(k8sClient.List(suiteCtx, list, client.InNamespace(namespace))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}
}

func haveStatus(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

var _ = Describe("VirtualMCPServer controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("creates the owned objects field by field", func() {
		v := sampleVMCP(ns)
		Expect(k8sClient.Create(suiteCtx, v)).To(Succeed())

		By("rendering the config into a ConfigMap without secret values")
		cm := get(ns, "team-tools-config", &corev1.ConfigMap{})
		cfg, err := config.Parse([]byte(cm.Data[ConfigFileName]))
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Listen).To(Equal("0.0.0.0:8080"))
		Expect(cfg.AdminListen).To(Equal("0.0.0.0:8081"))
		Expect(cfg.FailureMode).To(Equal(config.FailureModeFail))
		Expect(cfg.HealthCheck.Interval.Std()).To(Equal(10 * time.Second))
		Expect(cfg.CircuitBreaker.FailureThreshold).To(Equal(5))
		Expect(cfg.Backends).To(HaveLen(2))
		Expect(cfg.Backends[0].URL).To(Equal("http://github-mcp.tools:8080/mcp"))
		Expect(cfg.Backends[0].Tools.Exclude).To(Equal([]string{"delete_*"}))
		Expect(cfg.Backends[0].Headers).To(Equal([]config.Header{{Name: "Authorization", ValueFrom: config.ValueSource{Env: "VMCP_HEADER_GITHUB_0"}}}))
		Expect(cfg.Backends[1].URL).To(Equal(fmt.Sprintf("http://jira-mcp.%s.svc.cluster.local:9000/mcp", ns)))

		By("creating a ServiceAccount without an API token")
		sa := get(ns, "team-tools", &corev1.ServiceAccount{})
		Expect(sa.AutomountServiceAccountToken).To(Equal(ptr.To(false)))

		By("creating a restricted Deployment")
		d := get(ns, "team-tools", &appsv1.Deployment{})
		Expect(*d.Spec.Replicas).To(Equal(int32(1)))
		Expect(d.Spec.Selector.MatchLabels).To(Equal(map[string]string{LabelName: "vmcp", LabelInstance: "team-tools"}))
		pod := d.Spec.Template.Spec
		Expect(pod.ServiceAccountName).To(Equal("team-tools"))
		Expect(pod.SecurityContext.RunAsNonRoot).To(Equal(ptr.To(true)))
		Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
		Expect(pod.Containers).To(HaveLen(1))
		c := pod.Containers[0]
		Expect(c.Name).To(Equal("vmcp"))
		Expect(c.Image).To(Equal("example.com/vmcp:test"))
		Expect(c.Args).To(Equal([]string{"serve", "--config", "/etc/vmcp/config.yaml"}))
		Expect(c.Ports).To(ConsistOf(
			HaveField("Name", "mcp"), HaveField("Name", "admin")))
		Expect(c.Ports[0].ContainerPort).To(Equal(int32(8080)))
		Expect(c.Ports[1].ContainerPort).To(Equal(int32(8081)))
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
		Expect(c.LivenessProbe.HTTPGet.Port).To(Equal(intstr.FromString("admin")))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		sc := c.SecurityContext
		Expect(sc.RunAsNonRoot).To(Equal(ptr.To(true)))
		Expect(sc.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
		Expect(sc.AllowPrivilegeEscalation).To(Equal(ptr.To(false)))
		Expect(sc.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
		Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
		Expect(c.Env).To(ConsistOf(corev1.EnvVar{Name: "VMCP_HEADER_GITHUB_0", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gh"}, Key: "token"}}}))
		Expect(pod.Volumes[0].ConfigMap.Name).To(Equal("team-tools-config"))

		By("creating a Service with the mcp and admin ports")
		svc := get(ns, "team-tools", &corev1.Service{})
		Expect(svc.Spec.Selector).To(Equal(d.Spec.Selector.MatchLabels))
		Expect(svc.Spec.SessionAffinity).To(Equal(corev1.ServiceAffinityNone))
		Expect(svc.Spec.Ports).To(HaveLen(2))
		Expect(svc.Spec.Ports[0]).To(And(HaveField("Name", "mcp"), HaveField("Port", int32(8080)), HaveField("TargetPort", intstr.FromString("mcp"))))
		Expect(svc.Spec.Ports[1]).To(And(HaveField("Name", "admin"), HaveField("Port", int32(8081)), HaveField("TargetPort", intstr.FromString("admin"))))

		By("not creating a PodDisruptionBudget for one replica")
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "team-tools"}, &policyv1.PodDisruptionBudget{}))
		}).WithTimeout(time.Second).WithPolling(interval).Should(BeTrue())

		By("setting a controller reference on every owned object")
		owner := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
		for _, obj := range []client.Object{cm, sa, d, svc} {
			Expect(metav1.IsControlledBy(obj, owner)).To(BeTrue(), "%T %s", obj, obj.GetName())
			Expect(obj.GetLabels()).To(HaveKeyWithValue(LabelManagedBy, "vmcp-operator"))
		}

		By("reporting the URL and observed generation")
		Eventually(func(g Gomega) {
			got := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.URL).To(Equal(fmt.Sprintf("http://team-tools.%s.svc.cluster.local:8080/mcp", ns)))
			g.Expect(got.Status.BackendsSummary).To(Equal("0/2"))
		}).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionAvailable)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionFalse, vmcpv1alpha1.ReasonDeploymentUnavailable))
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionReady)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionFalse, vmcpv1alpha1.ReasonNotReady))
	})

	DescribeTable("issues no writes when reconciling an unchanged spec", func(serviceType corev1.ServiceType) {
		v := sampleVMCP(ns)
		v.Spec.Service.Type = serviceType
		Expect(k8sClient.Create(suiteCtx, v)).To(Succeed())
		get(ns, "team-tools", &corev1.Service{})
		markDeploymentReady(ns, "team-tools", 1)
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionAvailable)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionTrue, vmcpv1alpha1.ReasonDeploymentAvailable))

		req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "team-tools"}}
		// Settle: the manager's own reconciles may still be in flight.
		Eventually(func() int {
			before := writes.In(ns)
			_, err := reconciler.Reconcile(suiteCtx, req)
			Expect(err).NotTo(HaveOccurred())
			return writes.In(ns) - before
		}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(BeZero())

		By("reconciling three more times")
		before := writes.In(ns)
		for range 3 {
			_, err := reconciler.Reconcile(suiteCtx, req)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(writes.In(ns)).To(Equal(before))

		By("not being triggered by a status write")
		runs := reconciles.Of(ns, "team-tools")
		Eventually(func() error {
			cur := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
			patch := client.MergeFrom(cur.DeepCopy())
			cur.Status.Tools = 42
			return k8sClient.Status().Patch(suiteCtx, cur, patch)
		}).WithTimeout(timeout).Should(Succeed())
		Consistently(func() int { return reconciles.Of(ns, "team-tools") }).WithTimeout(2 * time.Second).WithPolling(interval).Should(Equal(runs))
		Expect(writes.In(ns)).To(Equal(before))
	},
		Entry("ClusterIP Service", corev1.ServiceTypeClusterIP),
		// The API server allocates node ports (and defaults load balancer fields) the spec leaves empty.
		Entry("NodePort Service", corev1.ServiceTypeNodePort),
		Entry("LoadBalancer Service", corev1.ServiceTypeLoadBalancer),
	)

	It("updates the ConfigMap when the spec changes", func() {
		v := sampleVMCP(ns)
		Expect(k8sClient.Create(suiteCtx, v)).To(Succeed())
		Eventually(func() int { return len(renderedConfig(ns, "team-tools").Backends) }).WithTimeout(timeout).Should(Equal(2))

		Eventually(func() error {
			cur := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
			cur.Spec.Backends = append(cur.Spec.Backends, vmcpv1alpha1.Backend{Name: "search", URL: "https://search.example.com/mcp"})
			cur.Spec.FailureMode = vmcpv1alpha1.FailureModeBestEffort
			cur.Spec.HealthCheck.Interval = metav1.Duration{Duration: 20 * time.Second}
			return k8sClient.Update(suiteCtx, cur)
		}).WithTimeout(timeout).Should(Succeed())

		Eventually(func(g Gomega) {
			cfg := renderedConfig(ns, "team-tools")
			g.Expect(cfg.Backends).To(HaveLen(3))
			g.Expect(cfg.Backends[2].Name).To(Equal("search"))
			g.Expect(cfg.FailureMode).To(Equal(config.FailureModeBestEffort))
			g.Expect(cfg.HealthCheck.Interval.Std()).To(Equal(20 * time.Second))
		}).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		Eventually(func() string {
			return get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{}).Status.BackendsSummary
		}).WithTimeout(timeout).Should(Equal("0/3"))
	})

	It("adds a PodDisruptionBudget and session affinity above one replica and removes them again", func() {
		v := sampleVMCP(ns)
		Expect(k8sClient.Create(suiteCtx, v)).To(Succeed())
		get(ns, "team-tools", &appsv1.Deployment{})
		pdbKey := types.NamespacedName{Namespace: ns, Name: "team-tools"}

		setReplicas := func(n int32) {
			Eventually(func() error {
				cur := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
				cur.Spec.Replicas = ptr.To(n)
				return k8sClient.Update(suiteCtx, cur)
			}).WithTimeout(timeout).Should(Succeed())
		}

		By("scaling to 3")
		setReplicas(3)
		Eventually(func() int32 { return *get(ns, "team-tools", &appsv1.Deployment{}).Spec.Replicas }).WithTimeout(timeout).Should(Equal(int32(3)))
		pdb := get(ns, "team-tools", &policyv1.PodDisruptionBudget{})
		Expect(pdb.Spec.MaxUnavailable).To(Equal(ptr.To(intstr.FromInt32(1))))
		Expect(pdb.Spec.Selector.MatchLabels).To(Equal(map[string]string{LabelName: "vmcp", LabelInstance: "team-tools"}))
		Expect(metav1.IsControlledBy(pdb, get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{}))).To(BeTrue())
		Eventually(func() corev1.ServiceAffinity {
			return get(ns, "team-tools", &corev1.Service{}).Spec.SessionAffinity
		}).WithTimeout(timeout).Should(Equal(corev1.ServiceAffinityClientIP))

		By("reporting Degraded while only some replicas are ready")
		markDeploymentReady(ns, "team-tools", 2)
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionDegraded)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionTrue, vmcpv1alpha1.ReasonReplicasUnavailable))

		By("scaling back to 1")
		setReplicas(1)
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, pdbKey, &policyv1.PodDisruptionBudget{}))
		}).WithTimeout(timeout).Should(BeTrue())
		Eventually(func() corev1.ServiceAffinity {
			return get(ns, "team-tools", &corev1.Service{}).Spec.SessionAffinity
		}).WithTimeout(timeout).Should(Equal(corev1.ServiceAffinityNone))
		Eventually(func() int32 { return *get(ns, "team-tools", &appsv1.Deployment{}).Spec.Replicas }).WithTimeout(timeout).Should(Equal(int32(1)))
	})

	It("reports Available once the Deployment has a ready pod", func() {
		Expect(k8sClient.Create(suiteCtx, sampleVMCP(ns))).To(Succeed())
		get(ns, "team-tools", &appsv1.Deployment{})
		markDeploymentReady(ns, "team-tools", 1)
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionAvailable)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionTrue, vmcpv1alpha1.ReasonDeploymentAvailable))
		got := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
		Expect(got.Status.ReadyReplicas).To(Equal(int32(1)))
		Expect(got.Status.Replicas).To(Equal(int32(1)))
		// No aggregator answered yet: backends are Unknown and the summary says so.
		Expect(meta.FindStatusCondition(got.Status.Conditions, vmcpv1alpha1.ConditionBackendsHealthy)).
			To(haveStatus(metav1.ConditionUnknown, vmcpv1alpha1.ReasonBackendsUnknown))
		Expect(got.Status.Backends).To(HaveLen(2))
		Expect(got.Status.Backends[0].Health).To(Equal(vmcpv1alpha1.BackendUnknown))
	})

	It("keeps the running config and reports it when a spec cannot be rendered", func() {
		Expect(k8sClient.Create(suiteCtx, sampleVMCP(ns))).To(Succeed())
		cm := get(ns, "team-tools-config", &corev1.ConfigMap{})
		markDeploymentReady(ns, "team-tools", 1)
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionAvailable)).WithTimeout(timeout).
			Should(haveStatus(metav1.ConditionTrue, vmcpv1alpha1.ReasonDeploymentAvailable))

		By("setting a tool filter the API server accepts but the aggregator would refuse")
		Eventually(func() error {
			cur := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
			cur.Spec.Backends[1].Tools = &vmcpv1alpha1.ToolFilter{Include: []string{"[unclosed"}}
			return k8sClient.Update(suiteCtx, cur)
		}).WithTimeout(timeout).Should(Succeed())
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionConfigValid)).WithTimeout(timeout).
			Should(And(haveStatus(metav1.ConditionFalse, vmcpv1alpha1.ReasonRenderFailed),
				HaveField("Message", ContainSubstring("backends[1].tools.include[0]: is not a valid glob"))))
		Expect(condition(ns, "team-tools", vmcpv1alpha1.ConditionReady)()).To(HaveField("Status", metav1.ConditionFalse))
		// The aggregator still serves the previous config.
		Expect(condition(ns, "team-tools", vmcpv1alpha1.ConditionAvailable)()).To(HaveField("Status", metav1.ConditionTrue))
		Expect(get(ns, "team-tools-config", &corev1.ConfigMap{}).Data).To(Equal(cm.Data))
	})

	It("puts back an owned object someone changed", func() {
		Expect(k8sClient.Create(suiteCtx, sampleVMCP(ns))).To(Succeed())
		cm := get(ns, "team-tools-config", &corev1.ConfigMap{})
		want := cm.Data[ConfigFileName]
		cm.Data[ConfigFileName] = "listen: 0.0.0.0:1\n"
		Expect(k8sClient.Update(suiteCtx, cm)).To(Succeed())
		Eventually(func() string {
			return get(ns, "team-tools-config", &corev1.ConfigMap{}).Data[ConfigFileName]
		}).WithTimeout(timeout).Should(Equal(want))
	})

	It("restores an owned object whose labels were removed (and so left the cache)", func() {
		Expect(k8sClient.Create(suiteCtx, sampleVMCP(ns))).To(Succeed())
		cm := get(ns, "team-tools-config", &corev1.ConfigMap{})
		cm.Labels = nil
		Expect(k8sClient.Update(suiteCtx, cm)).To(Succeed())
		Eventually(func() map[string]string {
			return get(ns, "team-tools-config", &corev1.ConfigMap{}).Labels
		}).WithTimeout(timeout).Should(HaveKeyWithValue(LabelManagedBy, ManagerName))
	})

	It("refuses to take over an object it does not own", func() {
		Expect(k8sClient.Create(suiteCtx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "team-tools", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, sampleVMCP(ns))).To(Succeed())
		Eventually(condition(ns, "team-tools", vmcpv1alpha1.ConditionReady)).WithTimeout(timeout).
			Should(And(haveStatus(metav1.ConditionFalse, vmcpv1alpha1.ReasonReconcileFailed),
				HaveField("Message", ContainSubstring("is not controlled by this VirtualMCPServer"))))
		Eventually(eventReasons(ns)).WithTimeout(timeout).Should(ContainElement(vmcpv1alpha1.EventReconcileFailed))
	})
})
