// Command demo runs vmcp-operator end to end on this machine with no cluster (`make demo`):
// a local control plane, the operator, three MCP backends and an aggregator started from the
// config the operator rendered. It applies config/samples/, then kills a backend and restores
// it while narrating what `kubectl get vmcp` shows. Every process it starts is stopped when it
// ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/test/harness"
	"github.com/vmcp-dev/vmcp-operator/test/podnet"
)

const (
	sampleName = "team-tools"
	// victim is the backend the demo kills and restores.
	victim = "jira"
)

func main() {
	root := flag.String("repo", ".", "Repository root (config/, bin/).")
	keep := flag.Bool("keep", false, "Keep running at the end until Ctrl-C, to try kubectl and an MCP client yourself.")
	flag.Parse()
	// The operator's own logs would drown the narration; they are not needed here.
	ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err := run(ctx, *root, *keep)
	if errors.Is(err, context.Canceled) {
		fmt.Println("\nInterrupted; everything started was stopped.")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("\nDemo finished in %s; everything it started was stopped.\n", time.Since(start).Round(time.Second))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// demo holds what run started, so that cleanup can stop it in reverse order.
type demo struct {
	root, bin, work string
	cluster         *harness.Cluster
	operator        *harness.Operator
	pods            *podnet.Network
	backends        map[string]*harness.Backend
	replica         *harness.Replica
}

func run(ctx context.Context, root string, keep bool) (err error) {
	root, err = filepath.Abs(root)
	if err != nil {
		return err
	}
	d := &demo{root: root, bin: filepath.Join(root, "bin"), backends: map[string]*harness.Backend{}}
	if d.work, err = os.MkdirTemp("", "vmcp-demo-"); err != nil {
		return err
	}
	defer func() { d.cleanup(err == nil || errors.Is(err, context.Canceled)) }()
	steps := []func(context.Context) error{d.startCluster, d.startOperator, d.startBackends, d.applySample,
		d.startAggregator, d.callTools, d.breakBackend, d.restoreBackend}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if keep {
		heading("Still running (Ctrl-C to stop)")
		fmt.Printf("  export KUBECONFIG=%s\n  MCP endpoint: %s\n", d.cluster.Kubeconfig, d.replica.MCPURL)
		<-ctx.Done()
	}
	return nil
}

// cleanup stops everything; the work directory (logs, configs) is kept after a failure.
func (d *demo) cleanup(removeWork bool) {
	heading("Cleaning up")
	harness.StopAll()
	if d.operator != nil {
		_ = d.operator.Stop()
	}
	if d.cluster != nil {
		_ = d.cluster.Stop()
	}
	fmt.Println("  stopped the aggregator, the backends, the operator and the control plane")
	if removeWork {
		_ = os.RemoveAll(d.work)
	} else {
		fmt.Printf("  logs and configs kept in %s\n", d.work)
	}
}

func heading(s string) { fmt.Printf("\n\033[1m== %s\033[0m\n", s) }

func note(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) }

// shell prints a command line as a user would type it, runs it, and prints its output.
func (d *demo) kubectl(ctx context.Context, args ...string) error {
	fmt.Printf("\n$ kubectl %s\n", strings.Join(args, " "))
	out, err := d.cluster.Kubectl(ctx, args...)
	fmt.Print(out)
	return err
}

func (d *demo) startCluster(_ context.Context) error {
	heading("1. A local control plane")
	note("kube-apiserver and etcd from bin/k8s (built from the Go module proxy by `make envtest`)")
	t := time.Now()
	c, err := harness.StartCluster(harness.ClusterOptions{RepoRoot: d.root, WorkDir: d.work})
	if err != nil {
		return err
	}
	d.cluster = c
	note("API server up in %s, VirtualMCPServer CRD installed", time.Since(t).Round(100*time.Millisecond))
	note("try it yourself while the demo runs:  export KUBECONFIG=%s", c.Kubeconfig)
	return nil
}

func (d *demo) startOperator(ctx context.Context) error {
	heading("2. The operator")
	d.pods = podnet.New()
	op, err := harness.StartOperator(ctx, d.cluster, d.pods, harness.OperatorOptions{PollInterval: 2 * time.Second})
	if err != nil {
		return err
	}
	d.operator = op
	note("reconciling VirtualMCPServers; polls each aggregator's /status every 2s (--status-poll-interval)")
	return nil
}

func (d *demo) startBackends(ctx context.Context) error {
	heading("3. Three MCP backends")
	tools := map[string][]string{
		"github": {"create_issue", "list_repos", "delete_repo"},
		victim:   {"create_ticket", "search"},
		"search": {"search", "fetch"},
	}
	for _, name := range []string{"github", victim, "search"} {
		b, err := harness.StartBackend(ctx, d.bin, d.work, name, tools[name]...)
		if err != nil {
			return err
		}
		d.backends[name] = b
		note("$ bin/mcp-echo --listen %s --name %s --tools %s", strings.TrimSuffix(strings.TrimPrefix(b.URL, "http://"), "/mcp"),
			name, strings.Join(tools[name], ","))
	}
	return nil
}

func (d *demo) applySample(ctx context.Context) error {
	heading("4. Apply the sample VirtualMCPServer")
	if err := d.kubectl(ctx, "apply", "-f", filepath.Join(d.root, "config", "samples", "vmcp_v1alpha1_virtualmcpserver.yaml")); err != nil {
		return err
	}
	note("the operator renders it into a ConfigMap and runs the aggregator as a Deployment:")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.cluster.Kubectl(ctx, "get", "configmap", sampleName+"-config"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the operator did not render the config within 30s")
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return d.kubectl(ctx, "get", "configmap,deployment,service,serviceaccount", "-l", "app.kubernetes.io/instance="+sampleName)
}

func (d *demo) startAggregator(ctx context.Context) error {
	heading("5. The aggregator, as the Deployment's pod runs it")
	note("no kubelet here: the demo starts bin/vmcp with the config from the ConfigMap, rewriting only")
	note("listen addresses and backend URLs, and publishes it in an EndpointSlice as a cluster would")
	urls := map[string]string{}
	for name, b := range d.backends {
		urls[name] = b.URL
	}
	r, err := d.cluster.StartReplica(ctx, d.pods, types.NamespacedName{Namespace: "default", Name: sampleName}, 0,
		harness.ReplicaOptions{VMCP: filepath.Join(d.bin, "vmcp"), WorkDir: d.work, Backends: urls})
	if err != nil {
		return err
	}
	d.replica = r
	note("$ bin/vmcp serve --config %s   (MCP at %s)", filepath.Base(r.Args[len(r.Args)-1]), r.MCPURL)
	if err := d.waitFor(ctx, "Ready with all three backends and their tools", 60*time.Second, func(v *vmcpv1alpha1.VirtualMCPServer) bool {
		return v.Status.BackendsSummary == "3/3" && v.Status.Tools == 6 && meta.IsStatusConditionTrue(v.Status.Conditions, vmcpv1alpha1.ConditionReady)
	}); err != nil {
		return err
	}
	return d.kubectl(ctx, "get", "vmcp")
}

func (d *demo) callTools(ctx context.Context) error {
	heading("6. An MCP client through the aggregator")
	s, err := harness.Connect(ctx, d.replica.MCPURL)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	names, err := harness.ToolNames(ctx, s)
	if err != nil {
		return err
	}
	note("tools/list -> %s", strings.Join(names, ", "))
	note("(github's delete_repo is hidden by the sample's tools.exclude: [\"delete_*\"])")
	text, _, err := harness.CallText(ctx, s, "jira_search", "flaky login test")
	if err != nil {
		return err
	}
	note(`tools/call jira_search {"text": "flaky login test"} -> %q`, text)
	return nil
}

func (d *demo) breakBackend(ctx context.Context) error {
	heading("7. Kill the jira backend while a client keeps calling it")
	s, err := harness.Connect(ctx, d.replica.MCPURL)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	d.backends[victim].Kill()
	killed := time.Now()
	note("$ kill -9 <jira's pid>")
	var lastErr string
	stopCalls := keepCalling(ctx, s, "jira_search", &lastErr)
	err = d.waitFor(ctx, "the jira circuit to open in the status", 60*time.Second, func(v *vmcpv1alpha1.VirtualMCPServer) bool {
		return v.Status.OpenCircuits == 1
	})
	stopCalls()
	if err != nil {
		return err
	}
	note("the status showed it %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	note("calls to jira now fail fast with: %s", firstLine(lastErr))
	if err := d.kubectl(ctx, "get", "vmcp"); err != nil {
		return err
	}
	return d.kubectl(ctx, "get", "events", "--field-selector", "involvedObject.name="+sampleName, "--sort-by=.metadata.creationTimestamp")
}

func (d *demo) restoreBackend(ctx context.Context) error {
	heading("8. Restore jira")
	restored := time.Now()
	if err := d.backends[victim].Restart(ctx); err != nil {
		return err
	}
	note("$ bin/mcp-echo --name jira ...   (same port)")
	note("after openDuration (10s in the sample) the breaker lets the prober's ping through (HalfOpen), then closes")
	if err := d.waitFor(ctx, "jira to be healthy with a closed circuit", 90*time.Second, func(v *vmcpv1alpha1.VirtualMCPServer) bool {
		for _, b := range v.Status.Backends {
			if b.Name == victim {
				return b.Circuit == vmcpv1alpha1.CircuitClosed && b.Health == vmcpv1alpha1.BackendHealthy
			}
		}
		return false
	}); err != nil {
		return err
	}
	note("recovered in the status %s after the restart", time.Since(restored).Round(100*time.Millisecond))
	if err := d.kubectl(ctx, "get", "vmcp"); err != nil {
		return err
	}
	return d.kubectl(ctx, "get", "events", "--field-selector", "involvedObject.name="+sampleName, "--sort-by=.metadata.creationTimestamp")
}

// waitFor polls the sample object until cond holds, printing a dot per second.
func (d *demo) waitFor(ctx context.Context, what string, timeout time.Duration, cond func(*vmcpv1alpha1.VirtualMCPServer) bool) error {
	fmt.Printf("  waiting for %s ", what)
	defer fmt.Println()
	deadline := time.Now().Add(timeout)
	lastDot := time.Now()
	for {
		v := &vmcpv1alpha1.VirtualMCPServer{}
		if err := d.cluster.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: sampleName}, v); err == nil && cond(v) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		if time.Since(lastDot) >= time.Second {
			fmt.Print(".")
			lastDot = time.Now()
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// keepCalling calls tool every 200ms until the returned stop function is called, recording the
// last error text a client saw.
func keepCalling(ctx context.Context, s *mcp.ClientSession, tool string, lastErr *string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			callCtx, c := context.WithTimeout(ctx, 5*time.Second)
			text, isErr, err := harness.CallText(callCtx, s, tool, "still there?")
			c()
			switch {
			case err != nil && ctx.Err() == nil:
				*lastErr = err.Error()
			case isErr:
				*lastErr = text
			}
			_ = sleep(ctx, 200*time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
