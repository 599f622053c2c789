package controller

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// specFrom builds a VirtualMCPServer from a YAML spec, as a user would write it. Unstructured
// objects let the table express values the Go types would refuse to hold.
func specFrom(name, specYAML string) *unstructured.Unstructured {
	GinkgoHelper()
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(specYAML), &spec)).To(Succeed())
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "vmcp.dev/v1alpha1",
		"kind":       "VirtualMCPServer",
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"spec":       spec,
	}}
	return u
}

func readAll(r io.Reader) string {
	b, err := io.ReadAll(r)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

const oneBackend = "backends: [{name: a, url: 'http://a:8080/mcp'}]\n"

func manyBackends(n int) string {
	var b strings.Builder
	b.WriteString("backends:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {name: b%d, url: 'http://b%d/mcp'}\n", i, i)
	}
	return b.String()
}

var _ = Describe("VirtualMCPServer validation by the API server", func() {
	create := func(name, spec string) error {
		return k8sClient.Create(suiteCtx, specFrom(name, spec), client.DryRunAll)
	}

	DescribeTable("rejects invalid specs with a message naming the problem",
		func(spec, wantMessage string) {
			err := create("invalid", spec)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("no backends", "backends: []", "should have at least 1 items"),
		Entry("backends missing", "failureMode: Fail", "spec.backends: Required value"),
		Entry("more than 256 backends", manyBackends(257), "must have at most 256 items"),
		Entry("duplicate backend names",
			"backends: [{name: a, url: 'http://a/mcp'}, {name: a, url: 'http://b/mcp'}]", "Duplicate value"),
		Entry("backend name with upper case", "backends: [{name: GitHub, url: 'http://a/mcp'}]", "name must be a DNS label"),
		Entry("backend name with underscore", "backends: [{name: my_backend, url: 'http://a/mcp'}]", "name must be a DNS label"),
		Entry("backend name ending with dash", "backends: [{name: a-, url: 'http://a/mcp'}]", "name must be a DNS label"),
		Entry("backend name too long", fmt.Sprintf("backends: [{name: %s, url: 'http://a/mcp'}]", strings.Repeat("a", 64)), "Too long"),
		Entry("neither url nor serviceRef", "backends: [{name: a}]", "exactly one of url or serviceRef must be set"),
		Entry("both url and serviceRef",
			"backends: [{name: a, url: 'http://a/mcp', serviceRef: {name: svc, port: 80}}]", "exactly one of url or serviceRef must be set"),
		Entry("relative url", "backends: [{name: a, url: '/mcp'}]", "url must be an absolute http or https URL"),
		Entry("non-http url", "backends: [{name: a, url: 'ftp://a/mcp'}]", "url must be an absolute http or https URL"),
		Entry("serviceRef port out of range", "backends: [{name: a, serviceRef: {name: svc, port: 70000}}]", "should be less than or equal to 65535"),
		Entry("serviceRef path without slash", "backends: [{name: a, serviceRef: {name: svc, port: 80, path: mcp}}]", "serviceRef.path must start with '/'"),
		Entry("invalid failureMode", oneBackend+"failureMode: Sometimes", "Unsupported value: \"Sometimes\""),
		Entry("health timeout not below interval", oneBackend+"healthCheck: {interval: 5s, timeout: 5s}",
			"healthCheck.timeout must be shorter than healthCheck.interval"),
		Entry("health interval not a duration", oneBackend+"healthCheck: {interval: often}", "healthCheck.interval"),
		Entry("health interval below 1s", oneBackend+"healthCheck: {interval: 500ms, timeout: 100ms}", "healthCheck.interval must be at least 1s"),
		Entry("unhealthyThreshold zero", oneBackend+"healthCheck: {unhealthyThreshold: 0}", "should be greater than or equal to 1"),
		Entry("openDuration above maxOpenDuration", oneBackend+"circuitBreaker: {openDuration: 10m, maxOpenDuration: 5m}",
			"circuitBreaker.openDuration must not exceed circuitBreaker.maxOpenDuration"),
		Entry("failureRatePercent above 100", oneBackend+"circuitBreaker: {failureRatePercent: 150}", "should be less than or equal to 100"),
		Entry("minimumRequests without failureRatePercent", oneBackend+"circuitBreaker: {minimumRequests: 10}",
			"circuitBreaker.minimumRequests only applies with failureRatePercent"),
		Entry("failureThreshold zero", oneBackend+"circuitBreaker: {failureThreshold: 0}", "should be greater than or equal to 1"),
		Entry("Priority without priorityOrder", oneBackend+"conflictResolution: {strategy: Priority}",
			"conflictResolution.priorityOrder is required when strategy is Priority"),
		Entry("priorityOrder naming an unknown backend", oneBackend+"conflictResolution: {strategy: Priority, priorityOrder: [a, ghost]}",
			"conflictResolution.priorityOrder must name only backends listed in spec.backends"),
		Entry("override naming an unknown backend",
			oneBackend+"conflictResolution: {strategy: Manual, overrides: [{backend: ghost, tool: t, name: renamed}]}",
			"conflictResolution.overrides[].backend must name a backend listed in spec.backends"),
		Entry("overrides without Manual strategy",
			oneBackend+"conflictResolution: {strategy: Prefix, overrides: [{backend: a, tool: t, name: renamed}]}",
			"conflictResolution.overrides only apply when strategy is Manual"),
		Entry("prefixFormat without placeholder", oneBackend+"conflictResolution: {prefixFormat: 'x_'}", "prefixFormat must contain {backend}"),
		Entry("unknown strategy", oneBackend+"conflictResolution: {strategy: Random}", "Unsupported value: \"Random\""),
		Entry("negative replicas", oneBackend+"replicas: -1", "should be greater than or equal to 0"),
		Entry("unknown service type", oneBackend+"service: {type: ExternalName}", "Unsupported value: \"ExternalName\""),
		Entry("backend timeout below 100ms", "backends: [{name: a, url: 'http://a/mcp', timeout: 10ms}]", "timeout must be at least 100ms"),
		Entry("header without secret", "backends: [{name: a, url: 'http://a/mcp', headers: [{name: Authorization}]}]", "valueFrom: Required value"),
		Entry("header name with spaces",
			"backends: [{name: a, url: 'http://a/mcp', headers: [{name: 'Bad Header', valueFrom: {secretKeyRef: {name: s, key: k}}}]}]",
			"spec.backends[0].headers[0].name"),
	)

	It("rejects a metadata.name that cannot name a Service", func() {
		err := create("Team.Tools", oneBackend)
		Expect(err).To(HaveOccurred())
		err = create("9tools", oneBackend)
		Expect(err).To(MatchError(ContainSubstring("metadata.name must be a DNS-1035 label")))
	})

	DescribeTable("accepts valid edge cases",
		func(spec string) {
			Expect(create("valid", spec)).To(Succeed())
		},
		Entry("exactly 256 backends", manyBackends(256)),
		Entry("a 63-character backend name", fmt.Sprintf("backends: [{name: %s, url: 'https://a.example.com/mcp'}]", strings.Repeat("a", 63))),
		Entry("serviceRef with default path and single-digit name",
			"backends: [{name: '1', serviceRef: {name: svc, port: 1}}]"),
		Entry("failure-rate breaker with every knob",
			oneBackend+"circuitBreaker: {enabled: false, failureRatePercent: 100, minimumRequests: 1, window: 1s, openDuration: 5m, maxOpenDuration: 5m, halfOpenMaxRequests: 100}"),
		Entry("Manual strategy with overrides and scaled to zero",
			"backends: [{name: a, url: 'http://a/mcp'}, {name: b, url: 'http://b/mcp'}]\nreplicas: 0\n"+
				"conflictResolution: {strategy: Manual, overrides: [{backend: a, tool: search, name: a_search}, {backend: b, tool: search, name: b_search}]}"),
		Entry("Priority naming every backend, health timeout just below interval",
			"backends: [{name: a, url: 'http://a/mcp'}, {name: b, url: 'http://b/mcp'}]\n"+
				"conflictResolution: {strategy: Priority, priorityOrder: [b, a]}\nhealthCheck: {interval: 1s, timeout: 999ms}"),
	)

	It("accepts every sample in config/samples", func() {
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "vmcp_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(data, &u.Object)).To(Succeed())
			u.SetNamespace("default")
			Expect(k8sClient.Create(suiteCtx, u, client.DryRunAll)).To(Succeed(), f)
		}
	})

	It("accepts the sample through kubectl apply --dry-run=server", func() {
		admin, err := testEnv.AddUser(envtest.User{Name: "sample-admin", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubectl, err := admin.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		stdout, stderr, err := kubectl.Run("apply", "--dry-run=server", "-n", "default",
			"-f", filepath.Join("..", "..", "config", "samples", "vmcp_v1alpha1_virtualmcpserver.yaml"))
		Expect(err).NotTo(HaveOccurred(), "kubectl: %s", readAll(stderr))
		Expect(readAll(stdout)).To(ContainSubstring("virtualmcpserver.vmcp.dev/team-tools created (server dry run)"))
	})
})
