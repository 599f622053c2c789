package controller

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// fakeReplica serves a /status document the spec controls. The aggregator's real /status is
// exercised by the e2e suite; here only the operator's side of the contract matters.
type fakeReplica struct {
	mu     sync.Mutex
	status *statusapi.Status
	server *httptest.Server
}

func newFakeReplica(podAddr string) *fakeReplica {
	r := &fakeReplica{status: &statusapi.Status{}}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != statusapi.PathStatus {
			http.NotFound(w, req)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		_ = json.NewEncoder(w).Encode(r.status)
	}))
	DeferCleanup(r.server.Close)
	podNetwork.Route(podAddr, r.server.Listener.Addr().String())
	return r
}

func (r *fakeReplica) set(backends ...statusapi.Backend) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = wire(backends...)
	r.status.Version++
}

// endpointSlice publishes replicas the way the EndpointSlice controller does for the Service.
func endpointSlice(namespace, service, name string, ready bool, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
			LabelManagedBy: "vmcp-operator",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To(statusapi.MCPPortName), Port: ptr.To[int32](8080)},
			{Name: ptr.To(statusapi.AdminPortName), Port: ptr.To[int32](8081)},
		},
	}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}})
	}
	return s
}

var _ = Describe("Status loop", func() {
	var (
		ns  string
		req ctrl.Request
		r1  *fakeReplica
		r2  *fakeReplica
	)
	healthy := func(name string, tools int) statusapi.Backend {
		return wb(name, statusapi.HealthHealthy, statusapi.CircuitClosed, tools)
	}
	down := func(name string) statusapi.Backend {
		return statusapi.Backend{Name: name, Health: statusapi.HealthUnhealthy, Circuit: statusapi.CircuitOpen,
			Reason: statusapi.ReasonConnectionFailed, Message: "connection refused"}
	}
	poll := func() *vmcpv1alpha1.VirtualMCPServer {
		GinkgoHelper()
		_, err := reconciler.Reconcile(suiteCtx, req)
		Expect(err).NotTo(HaveOccurred())
		return get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
	}

	BeforeEach(func() {
		ns = newNamespace()
		req = ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "team-tools"}}
		// Unique pod addresses per spec, as in a real cluster.
		podSubnet++
		base := "10.1." + itoa(podSubnet) + "."
		podA, podB := base+"1", base+"2"
		r1, r2 = newFakeReplica(podA+":8081"), newFakeReplica(podB+":8081")
		r1.set(healthy("github", 3), healthy("jira", 2))
		r2.set(healthy("github", 3), healthy("jira", 2))

		v := sampleVMCP(ns)
		v.Spec.Replicas = ptr.To[int32](2)
		Expect(k8sClient.Create(suiteCtx, v)).To(Succeed())
		get(ns, "team-tools", &corev1.Service{})
		markDeploymentReady(ns, "team-tools", 2)
		Expect(k8sClient.Create(suiteCtx, endpointSlice(ns, "team-tools", "team-tools-abc", true, podA, podB))).To(Succeed())
	})

	It("merges the replicas' views into the status, writing only on change", func() {
		By("reporting every backend once the replicas answer")
		Eventually(func(g Gomega) {
			v := poll()
			g.Expect(v.Status.BackendsSummary).To(Equal("2/2"))
			g.Expect(v.Status.OpenCircuits).To(BeZero())
			g.Expect(v.Status.Tools).To(Equal(int32(5)))
			g.Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionBackendsHealthy)).
				To(haveStatus(metv1True, vmcpv1alpha1.ReasonAllBackendsAvailable))
			g.Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionReady)).To(haveStatus(metv1True, vmcpv1alpha1.ReasonReady))
		}).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		v := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
		Expect(v.Status.Backends).To(HaveLen(2))
		Expect(v.Status.Backends[0]).To(And(HaveField("Name", "github"), HaveField("Health", vmcpv1alpha1.BackendHealthy),
			HaveField("Circuit", vmcpv1alpha1.CircuitClosed), HaveField("Tools", int32(3)), HaveField("URL", "http://github-mcp.tools:8080/mcp")))
		since := v.Status.Backends[0].LastTransitionTime

		By("writing nothing while nothing changes")
		before := writes.In(ns)
		for range 5 {
			poll()
		}
		Expect(writes.In(ns)).To(Equal(before))

		By("showing a failure seen by only one replica")
		r2.set(down("github"), healthy("jira", 2))
		v = poll()
		Expect(v.Status.BackendsSummary).To(Equal("1/2"))
		Expect(v.Status.OpenCircuits).To(Equal(int32(1)))
		Expect(v.Status.Backends[0]).To(And(HaveField("Health", vmcpv1alpha1.BackendUnhealthy), HaveField("Circuit", vmcpv1alpha1.CircuitOpen),
			HaveField("Reason", "ConnectionFailed"), HaveField("Message", "connection refused")))
		Expect(v.Status.Backends[1].LastTransitionTime).To(Equal(since), "an unchanged backend keeps its transition time")
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionBackendsHealthy)).
			To(And(haveStatus(metav1.ConditionFalse, vmcpv1alpha1.ReasonSomeBackendsUnavailable), HaveField("Message", ContainSubstring("github (Unhealthy)"))))
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionDegraded)).
			To(haveStatus(metv1True, vmcpv1alpha1.ReasonSomeBackendsUnavailable))
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionReady)).To(haveStatus(metv1True, vmcpv1alpha1.ReasonReady))
		Eventually(eventReasons(ns)).WithTimeout(timeout).Should(ContainElements(vmcpv1alpha1.EventBackendUnhealthy, vmcpv1alpha1.EventCircuitOpened))

		By("recovering")
		r2.set(healthy("github", 3), healthy("jira", 2))
		v = poll()
		Expect(v.Status.BackendsSummary).To(Equal("2/2"))
		Eventually(eventReasons(ns)).WithTimeout(timeout).Should(ContainElements(vmcpv1alpha1.EventBackendRecovered, vmcpv1alpha1.EventCircuitClosed))
	})

	It("marks backends Unknown only when no replica answers", func() {
		Eventually(func() string { return poll().Status.BackendsSummary }).WithTimeout(timeout).Should(Equal("2/2"))

		By("losing one replica")
		r1.server.Close()
		v := poll()
		Expect(v.Status.BackendsSummary).To(Equal("2/2"))

		By("losing both")
		r2.server.Close()
		v = poll()
		Expect(v.Status.BackendsSummary).To(Equal("0/2"))
		Expect(v.Status.Backends[0].Health).To(Equal(vmcpv1alpha1.BackendUnknown))
		Expect(v.Status.Backends[0].Reason).To(Equal(statusapi.ReasonNoReplicaAnswered))
		Expect(v.Status.Backends[0].Message).To(ContainSubstring("no aggregator replica answered (2 asked)"))
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionBackendsHealthy)).
			To(haveStatus(metav1.ConditionUnknown, vmcpv1alpha1.ReasonBackendsUnknown))
	})

	It("asks only ready endpoints and reacts to EndpointSlice changes", func() {
		Eventually(func() string { return poll().Status.BackendsSummary }).WithTimeout(timeout).Should(Equal("2/2"))
		slice := get(ns, "team-tools-abc", &discoveryv1.EndpointSlice{})
		slice.Endpoints[0].Conditions.Ready = ptr.To(false)
		slice.Endpoints[1].Conditions.Ready = ptr.To(false)
		Expect(k8sClient.Update(suiteCtx, slice)).To(Succeed())
		// The slice watch triggers a reconcile by itself; no poll needed.
		Eventually(func() string {
			return get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{}).Status.BackendsSummary
		}).WithTimeout(timeout).WithPolling(interval).Should(Equal("0/2"))
		v := get(ns, "team-tools", &vmcpv1alpha1.VirtualMCPServer{})
		Expect(v.Status.Backends[0].Message).To(Equal("no ready aggregator replica to ask"))
	})
})

const metv1True = metav1.ConditionTrue

// podSubnet gives each spec its own pod addresses.
var podSubnet int32
