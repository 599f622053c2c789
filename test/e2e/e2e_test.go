package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/test/harness"
)

// A user's VirtualMCPServer, with timings short enough for a test: probes every second, three
// failed calls open a circuit for two seconds. degradedLatency is above the probe timeout, so a
// loaded CI machine cannot make a backend flap between Healthy and Degraded (Slow).
const teamTools = `apiVersion: vmcp.dev/v1alpha1
kind: VirtualMCPServer
metadata:
  name: team-tools
  namespace: default
spec:
  failureMode: Fail
  backends:
    - name: github
      url: http://github-mcp.tools.svc.cluster.local:8080/mcp
      tools: {exclude: ["delete_*"]}
    - name: jira
      serviceRef: {name: jira-mcp, port: 8080}
    - name: search
      serviceRef: {name: search-mcp, port: 9000, path: /mcp}
  healthCheck: {interval: 1s, timeout: 900ms, unhealthyThreshold: 2, degradedLatency: 5s}
  circuitBreaker: {failureThreshold: 3, openDuration: 2s, maxOpenDuration: 10s}
`

const (
	eventually = 60 * time.Second
	tick       = 200 * time.Millisecond
)

var teamKey = types.NamespacedName{Namespace: "default", Name: "team-tools"}

func getVMCP(key types.NamespacedName) *vmcpv1alpha1.VirtualMCPServer {
	GinkgoHelper()
	v := &vmcpv1alpha1.VirtualMCPServer{}
	Expect(cluster.Client.Get(ctx, key, v)).To(Succeed())
	return v
}

func backendStatus(key types.NamespacedName, name string) vmcpv1alpha1.BackendStatus {
	for _, b := range getVMCP(key).Status.Backends {
		if b.Name == name {
			return b
		}
	}
	return vmcpv1alpha1.BackendStatus{}
}

func conditionOf(key types.NamespacedName, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		return meta.FindStatusCondition(getVMCP(key).Status.Conditions, typ)
	}
}

func eventReasons(key types.NamespacedName) func() []string {
	return func() []string {
		list := &corev1.EventList{}
		Expect(cluster.Client.List(ctx, list, client.InNamespace(key.Namespace))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name == key.Name {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}
}

// statusPatches reads the operator's count of status patches to team-tools.
func statusPatches() float64 {
	GinkgoHelper()
	v, err := operator.Metric(ctx, "vmcp_operator_status_patches_total", `name="team-tools"`)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := cluster.Kubectl(ctx, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

func apply(manifest string) {
	GinkgoHelper()
	path := filepath.Join(workDir, fmt.Sprintf("manifest-%d.yaml", time.Now().UnixNano()))
	Expect(os.WriteFile(path, []byte(manifest), 0o600)).To(Succeed())
	kubectl("apply", "-f", path)
}

// caller keeps calling one tool per backend in the background, like an agent at work, and
// counts outcomes per tool.
type caller struct {
	session *mcp.ClientSession
	tools   []string
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	ok      map[string]int
	failed  map[string]int
	slowest map[string]time.Duration
}

func startCaller(session *mcp.ClientSession, tools ...string) *caller {
	c := &caller{session: session, tools: tools, stop: make(chan struct{}),
		ok: map[string]int{}, failed: map[string]int{}, slowest: map[string]time.Duration{}}
	c.wg.Add(1)
	go func() {
		defer GinkgoRecover()
		defer c.wg.Done()
		for {
			for _, tool := range c.tools {
				select {
				case <-c.stop:
					return
				default:
				}
				callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				start := time.Now()
				_, isErr, err := harness.CallText(callCtx, c.session, tool, "ping")
				took := time.Since(start)
				cancel()
				c.mu.Lock()
				if err != nil || isErr {
					c.failed[tool]++
				} else {
					c.ok[tool]++
				}
				c.slowest[tool] = max(c.slowest[tool], took)
				c.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return c
}

func (c *caller) counts(tool string) (ok, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[tool], c.failed[tool]
}

func (c *caller) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok, c.failed, c.slowest = map[string]int{}, map[string]int{}, map[string]time.Duration{}
}

func (c *caller) Stop() {
	close(c.stop)
	c.wg.Wait()
}

var _ = Describe("A VirtualMCPServer with three backends", Ordered, func() {
	var (
		github, jira, search *harness.Backend
		replica0, replica1   *harness.Replica
		githubB              *harness.Backend
		session              *mcp.ClientSession
	)
	backendURLs := func() map[string]string {
		return map[string]string{"github": github.URL, "jira": jira.URL, "search": search.URL}
	}

	BeforeAll(func() {
		var err error
		github, err = harness.StartBackend(ctx, binDir, workDir, "github", "create_issue", "list_repos", "delete_repo")
		Expect(err).NotTo(HaveOccurred())
		jira, err = harness.StartBackend(ctx, binDir, workDir, "jira", "create_ticket", "search")
		Expect(err).NotTo(HaveOccurred())
		search, err = harness.StartBackend(ctx, binDir, workDir, "search", "search", "fetch")
		Expect(err).NotTo(HaveOccurred())
	})

	It("becomes Ready with 3/3 backends and serves the merged tools", func() {
		apply(teamTools)
		Eventually(func() error {
			return cluster.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "team-tools-config"}, &corev1.ConfigMap{})
		}).WithTimeout(eventually).WithPolling(tick).Should(Succeed())

		var err error
		replica0, err = cluster.StartReplica(ctx, pods, teamKey, 0, harness.ReplicaOptions{
			VMCP: filepath.Join(binDir, "vmcp"), WorkDir: workDir, Backends: backendURLs()})
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(g Gomega) {
			v := getVMCP(teamKey)
			g.Expect(v.Status.BackendsSummary).To(Equal("3/3"))
			g.Expect(v.Status.OpenCircuits).To(BeZero())
			// github exposes 2 of its 3 tools (delete_* is excluded), jira 2, search 2.
			g.Expect(v.Status.Tools).To(Equal(int32(6)))
			g.Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionReady)).
				To(And(Not(BeNil()), HaveField("Status", metav1.ConditionTrue)))
		}).WithTimeout(eventually).WithPolling(tick).Should(Succeed())
		for _, b := range getVMCP(teamKey).Status.Backends {
			Expect(b.Health).To(Equal(vmcpv1alpha1.BackendHealthy), b.Name)
			Expect(b.Circuit).To(Equal(vmcpv1alpha1.CircuitClosed), b.Name)
		}

		By("listing the merged tools through the aggregator")
		session, err = harness.Connect(ctx, replica0.MCPURL)
		Expect(err).NotTo(HaveOccurred())
		names, err := harness.ToolNames(ctx, session)
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(ConsistOf("github_create_issue", "github_list_repos", "jira_create_ticket", "jira_search",
			"search_search", "search_fetch"))

		By("calling one tool on each backend")
		for tool, want := range map[string]string{
			"github_create_issue": "github/create_issue: hello",
			"jira_search":         "jira/search: hello",
			"search_search":       "search/search: hello",
		} {
			text, isErr, err := harness.CallText(ctx, session, tool, "hello")
			Expect(err).NotTo(HaveOccurred())
			Expect(isErr).To(BeFalse())
			Expect(text).To(Equal(want))
		}
	})

	It("shows a killed backend Unhealthy with an open circuit, keeps serving the others, and recovers", func() {
		calls := startCaller(session, "github_create_issue", "jira_search", "search_search")
		DeferCleanup(calls.Stop)

		By("killing the jira backend")
		killedAt := time.Now()
		jira.Kill()
		Eventually(func() vmcpv1alpha1.BackendStatus { return backendStatus(teamKey, "jira") }).
			WithTimeout(eventually).WithPolling(tick).Should(And(
			HaveField("Health", vmcpv1alpha1.BackendUnhealthy), HaveField("Circuit", vmcpv1alpha1.CircuitOpen)))
		openAfter := time.Since(killedAt)
		GinkgoWriter.Printf("e2e: backend killed -> circuit Open in the object's status after %s\n", openAfter.Round(10*time.Millisecond))
		AddReportEntry("kill-to-open", openAfter.String())

		v := getVMCP(teamKey)
		Expect(v.Status.BackendsSummary).To(Equal("2/3"))
		Expect(v.Status.OpenCircuits).To(Equal(int32(1)))
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionBackendsHealthy)).To(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Reason", vmcpv1alpha1.ReasonSomeBackendsUnavailable),
			HaveField("Message", ContainSubstring("jira"))))
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionDegraded)).To(
			HaveField("Status", metav1.ConditionTrue))
		// failureMode Fail: serving the available backends is still Ready.
		Expect(meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionReady)).To(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Message", ContainSubstring("jira"))))
		Eventually(eventReasons(teamKey)).WithTimeout(eventually).WithPolling(tick).Should(
			ContainElements(vmcpv1alpha1.EventBackendUnhealthy, vmcpv1alpha1.EventCircuitOpened))

		By("failing calls to jira fast, with the typed error, while the others succeed")
		calls.reset()
		Eventually(func() int { ok, _ := calls.counts("github_create_issue"); return ok }).WithTimeout(eventually).Should(BeNumerically(">=", 10))
		_, githubFailed := calls.counts("github_create_issue")
		_, searchFailed := calls.counts("search_search")
		Expect(githubFailed).To(BeZero())
		Expect(searchFailed).To(BeZero())
		text, isErr, err := harness.CallText(ctx, session, "jira_search", "x")
		Expect(err).NotTo(HaveOccurred())
		Expect(isErr).To(BeTrue())
		Expect(text).To(ContainSubstring("jira"))

		By("restarting jira")
		restartedAt := time.Now()
		Expect(jira.Restart(ctx)).To(Succeed())
		Eventually(func() vmcpv1alpha1.BackendStatus { return backendStatus(teamKey, "jira") }).
			WithTimeout(eventually).WithPolling(tick).Should(And(
			HaveField("Health", vmcpv1alpha1.BackendHealthy), HaveField("Circuit", vmcpv1alpha1.CircuitClosed)))
		closedAfter := time.Since(restartedAt)
		GinkgoWriter.Printf("e2e: backend restored -> circuit Closed and Healthy in the object's status after %s\n", closedAfter.Round(10*time.Millisecond))
		AddReportEntry("restore-to-closed", closedAfter.String())
		Expect(getVMCP(teamKey).Status.BackendsSummary).To(Equal("3/3"))
		Eventually(eventReasons(teamKey)).WithTimeout(eventually).WithPolling(tick).Should(
			ContainElements(vmcpv1alpha1.EventBackendRecovered, vmcpv1alpha1.EventCircuitClosed))
		Eventually(func() (string, error) {
			text, _, err := harness.CallText(ctx, session, "jira_search", "back")
			return text, err
		}).WithTimeout(eventually).WithPolling(tick).Should(Equal("jira/search: back"))
	})

	It("writes no status while nothing changes (30s steady state)", func() {
		// Let the recovery settle (Degraded/Recovering turns Healthy within an interval).
		Eventually(func() string { return getVMCP(teamKey).Status.BackendsSummary }).WithTimeout(eventually).Should(Equal("3/3"))
		time.Sleep(3 * pollInterval)
		before, rv := statusPatches(), getVMCP(teamKey).ResourceVersion
		Expect(before).To(BeNumerically(">", 0))
		Consistently(statusPatches).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Equal(before))
		Expect(getVMCP(teamKey).ResourceVersion).To(Equal(rv))
		GinkgoWriter.Printf("e2e: %v status patches in total, none in 30s of steady state\n", before)
	})

	It("measures status writes while a backend flaps every 10s", func() {
		if os.Getenv("E2E_MEASURE") == "" {
			Skip("set E2E_MEASURE=1 to measure status writes while a backend flaps (takes a minute)")
		}
		before, start := statusPatches(), time.Now()
		for i := range 6 {
			if i%2 == 0 {
				search.Kill()
			} else {
				Expect(search.Restart(ctx)).To(Succeed())
			}
			time.Sleep(10 * time.Second)
		}
		patches, took := statusPatches()-before, time.Since(start)
		GinkgoWriter.Printf("e2e: %v status patches in %s while search flapped every 10s (%.1f per minute)\n",
			patches, took.Round(time.Second), patches/took.Minutes())
		AddReportEntry("flap-patches-per-minute", patches/took.Minutes())
		Eventually(func() string { return getVMCP(teamKey).Status.BackendsSummary }).WithTimeout(eventually).Should(Equal("3/3"))
	})

	It("merges replicas: a failure only one replica sees shows in the status", func() {
		By("scaling to two replicas")
		kubectl("patch", "vmcp", "team-tools", "--type=merge", "-p", `{"spec":{"replicas":2}}`)
		var err error
		githubB, err = harness.StartBackend(ctx, binDir, workDir, "github-b", "create_issue", "list_repos", "delete_repo")
		Expect(err).NotTo(HaveOccurred())
		urls := backendURLs()
		// Replica 1 reaches github through its own path (another backend process), which fails.
		urls["github"] = githubB.URL
		replica1, err = cluster.StartReplica(ctx, pods, teamKey, 1, harness.ReplicaOptions{
			VMCP: filepath.Join(binDir, "vmcp"), WorkDir: workDir, Backends: urls})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int32 { return getVMCP(teamKey).Status.ReadyReplicas }).WithTimeout(eventually).Should(Equal(int32(2)))

		Expect(githubB.SetFault(ctx, "fail")).To(Succeed())
		Eventually(func() vmcpv1alpha1.BackendHealth { return backendStatus(teamKey, "github").Health }).
			WithTimeout(eventually).WithPolling(tick).Should(Equal(vmcpv1alpha1.BackendUnhealthy))
		Expect(getVMCP(teamKey).Status.BackendsSummary).To(Equal("2/3"))

		By("the replica that sees the failure going away")
		Expect(replica1.Crash(ctx)).To(Succeed())
		Eventually(func() string { return getVMCP(teamKey).Status.BackendsSummary }).
			WithTimeout(eventually).WithPolling(tick).Should(Equal("3/3"))
		Expect(backendStatus(teamKey, "github").Health).To(Equal(vmcpv1alpha1.BackendHealthy))
		githubB.Stop(5 * time.Second)
	})

	It("shows the columns and details an SRE reads with kubectl", func() {
		out := kubectl("get", "vmcp", "team-tools", "-n", "default")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		Expect(lines).To(HaveLen(2))
		Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "READY", "BACKENDS", "OPEN", "TOOLS", "URL", "AGE"}))
		fields := strings.Fields(lines[1])
		Expect(fields[:6]).To(Equal([]string{"team-tools", "True", "3/3", "0", "6",
			"http://team-tools.default.svc.cluster.local:8080/mcp"}))

		describe := kubectl("describe", "vmcp", "team-tools", "-n", "default")
		GinkgoWriter.Printf("e2e: kubectl describe vmcp team-tools:\n%s\n", describe)
		for _, want := range []string{`Backends:`, `Name:\s+jira`, `Health:\s+Healthy`, `Circuit:\s+Closed`,
			`Backends Summary:\s+3/3`, `Type:\s+BackendsHealthy`, `Events:`,
			`Warning\s+BackendUnhealthy`, `Warning\s+CircuitOpened`, `Normal\s+BackendRecovered`, `Normal\s+CircuitClosed`} {
			Expect(describe).To(MatchRegexp(want))
		}
	})

	AfterAll(func() {
		if session != nil {
			_ = session.Close()
		}
		for _, r := range []*harness.Replica{replica0, replica1} {
			if r != nil {
				r.Stop(5 * time.Second)
			}
		}
		for _, b := range []*harness.Backend{github, jira, search} {
			if b != nil {
				b.Stop(5 * time.Second)
			}
		}
	})
})

var _ = Describe("failureMode with every backend down", Ordered, func() {
	key := types.NamespacedName{Namespace: "default", Name: "all-down"}
	var replica *harness.Replica
	manifest := func(mode string) string {
		return fmt.Sprintf(`apiVersion: vmcp.dev/v1alpha1
kind: VirtualMCPServer
metadata: {name: all-down, namespace: default}
spec:
  failureMode: %s
  backends:
    - {name: alpha, url: "http://alpha.example.com/mcp"}
    - {name: beta, url: "http://beta.example.com/mcp"}
  healthCheck: {interval: 1s, timeout: 500ms, unhealthyThreshold: 2}
  circuitBreaker: {failureThreshold: 3, openDuration: 2s, maxOpenDuration: 10s}
`, mode)
	}

	It("Fail: not Ready, and clients get a clear error", func() {
		apply(manifest("Fail"))
		Eventually(func() error {
			return cluster.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "all-down-config"}, &corev1.ConfigMap{})
		}).WithTimeout(eventually).WithPolling(tick).Should(Succeed())
		// Nothing listens on these ports: both backends are down from the start.
		deadA, err := harness.DeadURL()
		Expect(err).NotTo(HaveOccurred())
		deadB, err := harness.DeadURL()
		Expect(err).NotTo(HaveOccurred())
		replica, err = cluster.StartReplica(ctx, pods, key, 0, harness.ReplicaOptions{
			VMCP: filepath.Join(binDir, "vmcp"), WorkDir: workDir, Backends: map[string]string{"alpha": deadA, "beta": deadB}})
		Expect(err).NotTo(HaveOccurred())

		Eventually(conditionOf(key, vmcpv1alpha1.ConditionBackendsHealthy)).WithTimeout(eventually).WithPolling(tick).Should(And(
			Not(BeNil()), HaveField("Status", metav1.ConditionFalse), HaveField("Reason", vmcpv1alpha1.ReasonNoBackendsAvailable)))
		Expect(conditionOf(key, vmcpv1alpha1.ConditionReady)()).To(HaveField("Status", metav1.ConditionFalse))
		Expect(getVMCP(key).Status.BackendsSummary).To(Equal("0/2"))

		s, err := harness.Connect(ctx, replica.MCPURL)
		if err == nil {
			_, err = harness.ToolNames(ctx, s)
			_ = s.Close()
		}
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("2 of 2 backends unavailable"))
	})

	It("BestEffort: Ready, and clients get empty lists", func() {
		apply(manifest("BestEffort"))
		Eventually(func() vmcpv1alpha1.FailureMode { return getVMCP(key).Spec.FailureMode }).Should(Equal(vmcpv1alpha1.FailureModeBestEffort))
		// The kubelet would refresh the mounted ConfigMap; the aggregator reloads it.
		Eventually(func() (string, error) {
			cm := &corev1.ConfigMap{}
			err := cluster.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "all-down-config"}, cm)
			return cm.Data["config.yaml"], err
		}).WithTimeout(eventually).WithPolling(tick).Should(ContainSubstring("failureMode: BestEffort"))
		Expect(replica.SyncConfig(ctx)).To(Succeed())

		Eventually(conditionOf(key, vmcpv1alpha1.ConditionReady)).WithTimeout(eventually).WithPolling(tick).Should(
			HaveField("Status", metav1.ConditionTrue))
		Expect(getVMCP(key).Status.BackendsSummary).To(Equal("0/2"))
		var tools []string
		Eventually(func() error {
			s, err := harness.Connect(ctx, replica.MCPURL)
			if err != nil {
				return err
			}
			defer func() { _ = s.Close() }()
			tools, err = harness.ToolNames(ctx, s)
			return err
		}).WithTimeout(eventually).WithPolling(tick).Should(Succeed())
		Expect(tools).To(BeEmpty())
	})

	AfterAll(func() {
		if replica != nil {
			replica.Stop(5 * time.Second)
		}
	})
})
