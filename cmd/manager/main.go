// Command manager runs the vmcp-operator: the VirtualMCPServer controller.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/controller"
	"github.com/vmcp-dev/vmcp-operator/internal/version"
)

// imageRepository holds both binaries; the aggregator pods run the same image as the operator.
const imageRepository = "ghcr.io/vmcp-dev/vmcp-operator"

// defaultVMCPImage is this build's own image, so operator and aggregators match by default.
func defaultVMCPImage() string {
	if version.Version == "" || version.Version == "dev" {
		return imageRepository + ":latest"
	}
	return imageRepository + ":" + version.Version
}

func main() {
	var o runOptions
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probe endpoint binds to.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Enable leader election so that only one manager replica reconciles.")
	flag.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with Kubernetes authentication and authorization; false serves plain HTTP.")
	flag.BoolVar(&o.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server (off by default: HTTP/2 Rapid Reset).")
	flag.StringVar(&o.vmcpImage, "vmcp-image", defaultVMCPImage(), "Aggregator image for VirtualMCPServers that set no spec.image.")
	flag.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	flag.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease; defaults to the pod's namespace (required outside a cluster).")
	flag.DurationVar(&o.statusPollInterval, "status-poll-interval", controller.DefaultStatusPollInterval,
		"How often each VirtualMCPServer's aggregator replicas are polled for backend health.")
	flag.DurationVar(&o.statusTimeout, "status-timeout", controller.DefaultStatusTimeout,
		"Timeout of one /status request to an aggregator replica.")
	flag.StringVar(&o.clusterDomain, "cluster-domain", controller.DefaultClusterDomain,
		"The cluster's DNS domain, for the URLs of serviceRef backends and status.url.")
	flag.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"How many VirtualMCPServers are reconciled (and polled) at once.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(o); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager exited")
		os.Exit(1)
	}
}

type runOptions struct {
	metricsAddr, probeAddr, vmcpImage, watchNamespaces string
	leaderElectionNamespace, clusterDomain             string
	leaderElect, secureMetrics, enableHTTP2            bool
	statusPollInterval, statusTimeout                  time.Duration
	maxConcurrentReconciles                            int
}

func run(o runOptions) error {
	log := ctrl.Log.WithName("setup")
	log.Info("Starting vmcp-operator", "version", version.String(), "vmcpImage", o.vmcpImage)
	if o.statusPollInterval < time.Second {
		return fmt.Errorf("--status-poll-interval must be at least 1s, got %s", o.statusPollInterval)
	}
	if o.statusTimeout <= 0 || o.statusTimeout >= o.statusPollInterval {
		return fmt.Errorf("--status-timeout must be positive and shorter than --status-poll-interval, got %s", o.statusTimeout)
	}
	if o.maxConcurrentReconciles < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.maxConcurrentReconciles)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(vmcpv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics, TLSOpts: tlsOpts}
	if o.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	var namespaces []string
	for _, ns := range strings.Split(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			namespaces = append(namespaces, ns)
		}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		WebhookServer:                 webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "vmcp-operator.vmcp.dev",
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controller.CacheOptions(namespaces),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	if err := (&controller.VirtualMCPServerReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("vmcp-operator"),
		Clock:                   clock.RealClock{},
		DefaultImage:            o.vmcpImage,
		StatusPollInterval:      o.statusPollInterval,
		StatusTimeout:           o.statusTimeout,
		MaxConcurrentReconciles: o.maxConcurrentReconciles,
		ClusterDomain:           o.clusterDomain,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up VirtualMCPServer controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	log.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}
