// Package e2e drives the whole system the way a user does: a local API server, the operator,
// real aggregator processes (bin/vmcp) started from the config the operator rendered, real MCP
// backends (bin/mcp-echo), kubectl for what an SRE reads, and an MCP client for what an agent
// sees. Run it with `make test-e2e` (part of `make test`).
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/vmcp-dev/vmcp-operator/test/harness"
	"github.com/vmcp-dev/vmcp-operator/test/podnet"
)

// pollInterval is the operator's --status-poll-interval in this suite.
const pollInterval = time.Second

var (
	ctx      context.Context
	cancel   context.CancelFunc
	repoRoot string
	binDir   string
	workDir  string
	cluster  *harness.Cluster
	pods     *podnet.Network
	operator *harness.Operator
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "vmcp-operator e2e suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	binDir = os.Getenv("BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(repoRoot, "bin")
	}
	for _, b := range []string{"vmcp", "mcp-echo"} {
		Expect(filepath.Join(binDir, b)).To(BeAnExistingFile(), "run `make build` first (make test-e2e does)")
	}
	workDir, err = os.MkdirTemp("", "vmcp-e2e-")
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("e2e: logs and configs in %s\n", workDir)

	cluster, err = harness.StartCluster(harness.ClusterOptions{RepoRoot: repoRoot, WorkDir: workDir})
	Expect(err).NotTo(HaveOccurred())
	pods = podnet.New()
	operator, err = harness.StartOperator(ctx, cluster, pods, harness.OperatorOptions{PollInterval: pollInterval})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	harness.StopAll()
	if operator != nil {
		Expect(operator.Stop()).To(Succeed())
	}
	if cancel != nil {
		cancel()
	}
	if cluster != nil {
		Expect(cluster.Stop()).To(Succeed())
	}
	if !suiteFailed && workDir != "" {
		_ = os.RemoveAll(workDir)
	} else {
		GinkgoWriter.Printf("e2e: kept logs in %s\n", workDir)
	}
})

// suiteFailed keeps the logs of a failed run: in AfterSuite, CurrentSpecReport describes the
// AfterSuite node itself, not the specs.
var suiteFailed bool

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		suiteFailed = true
	}
})
