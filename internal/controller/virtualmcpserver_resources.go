package controller

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Names and paths inside the aggregator pod.
const (
	ContainerName   = "vmcp"
	configVolume    = "config"
	tmpVolume       = "tmp"
	ConfigMountPath = "/etc/vmcp"
	// nonRootUID matches the distroless "nonroot" user of the aggregator image.
	nonRootUID = 65532
)

// Labels set on every object the operator creates for a VirtualMCPServer.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	appName        = "vmcp"
	// ManagerName is the value of LabelManagedBy on everything the operator creates.
	ManagerName = "vmcp-operator"
)

// SelectorLabels select the aggregator pods of a VirtualMCPServer. They never change, because
// a Deployment's selector is immutable.
func SelectorLabels(v *vmcpv1alpha1.VirtualMCPServer) map[string]string {
	return map[string]string{LabelName: appName, LabelInstance: v.Name}
}

func objectLabels(v *vmcpv1alpha1.VirtualMCPServer) map[string]string {
	l := SelectorLabels(v)
	l[LabelManagedBy] = ManagerName
	l[LabelComponent] = "aggregator"
	return l
}

func objectMeta(v *vmcpv1alpha1.VirtualMCPServer, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: v.Namespace, Labels: objectLabels(v)}
}

// ConfigMapName is the name of the ConfigMap holding the rendered aggregator config.
func ConfigMapName(v *vmcpv1alpha1.VirtualMCPServer) string { return v.Name + "-config" }

func desiredConfigMap(v *vmcpv1alpha1.VirtualMCPServer, r *Rendered) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(v, ConfigMapName(v)),
		Data:       map[string]string{ConfigFileName: string(r.YAML)},
	}
}

func desiredServiceAccount(v *vmcpv1alpha1.VirtualMCPServer) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta: objectMeta(v, v.Name),
		// The aggregator never talks to the Kubernetes API.
		AutomountServiceAccountToken: ptr.To(false),
	}
}

func replicas(v *vmcpv1alpha1.VirtualMCPServer) int32 { return ptr.Deref(v.Spec.Replicas, 1) }

func desiredDeployment(v *vmcpv1alpha1.VirtualMCPServer, r *Rendered, image string) *appsv1.Deployment {
	podLabels := maps.Clone(v.Spec.PodTemplate.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, objectLabels(v))

	pullPolicy := v.Spec.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}
	resources := v.Spec.Resources
	if len(resources.Requests) == 0 && len(resources.Limits) == 0 {
		resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("50m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		}
	}

	container := corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: pullPolicy,
		Args:            []string{"serve", "--config", ConfigMountPath + "/" + ConfigFileName},
		Ports: []corev1.ContainerPort{
			{Name: statusapi.MCPPortName, ContainerPort: statusapi.DefaultMCPPort, Protocol: corev1.ProtocolTCP},
			{Name: statusapi.AdminPortName, ContainerPort: statusapi.DefaultAdminPort, Protocol: corev1.ProtocolTCP},
		},
		Env:       r.Env,
		Resources: resources,
		VolumeMounts: []corev1.VolumeMount{
			{Name: configVolume, MountPath: ConfigMountPath, ReadOnly: true},
			{Name: tmpVolume, MountPath: "/tmp"},
		},
		LivenessProbe:  httpProbe(statusapi.PathHealthz, 3),
		ReadinessProbe: httpProbe(statusapi.PathReadyz, 1),
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			RunAsUser:                ptr.To[int64](nonRootUID),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	return &appsv1.Deployment{
		ObjectMeta: objectMeta(v, v.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas(v)),
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(v)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: v.Spec.PodTemplate.Annotations},
				Spec: corev1.PodSpec{
					ServiceAccountName:           v.Name,
					AutomountServiceAccountToken: ptr.To(false),
					// Longer than the aggregator's own drain bound, so SIGTERM drains in-flight calls.
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers:        []corev1.Container{container},
					NodeSelector:      v.Spec.PodTemplate.NodeSelector,
					Tolerations:       v.Spec.PodTemplate.Tolerations,
					Affinity:          v.Spec.PodTemplate.Affinity,
					PriorityClassName: v.Spec.PodTemplate.PriorityClassName,
					Volumes: []corev1.Volume{
						{Name: configVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(v)},
						}}},
						{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
							SizeLimit: ptr.To(resource.MustParse("16Mi")),
						}}},
					},
				},
			},
		},
	}
}

func httpProbe(path string, failureThreshold int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path:   path,
			Port:   intstr.FromString(statusapi.AdminPortName),
			Scheme: corev1.URISchemeHTTP,
		}},
		PeriodSeconds:    10,
		TimeoutSeconds:   2,
		SuccessThreshold: 1,
		FailureThreshold: failureThreshold,
	}
}

func desiredService(v *vmcpv1alpha1.VirtualMCPServer) *corev1.Service {
	svcType := v.Spec.Service.Type
	if svcType == "" {
		svcType = corev1.ServiceTypeClusterIP
	}
	affinity := corev1.ServiceAffinityNone
	if replicas(v) > 1 {
		// MCP sessions are stateful: keep a client on the replica that holds its session.
		affinity = corev1.ServiceAffinityClientIP
	}
	return &corev1.Service{
		ObjectMeta: objectMeta(v, v.Name),
		Spec: corev1.ServiceSpec{
			Type:            svcType,
			Selector:        SelectorLabels(v),
			SessionAffinity: affinity,
			Ports: []corev1.ServicePort{
				{Name: statusapi.MCPPortName, Port: servicePort(v), TargetPort: intstr.FromString(statusapi.MCPPortName), Protocol: corev1.ProtocolTCP},
				{Name: statusapi.AdminPortName, Port: statusapi.DefaultAdminPort, TargetPort: intstr.FromString(statusapi.AdminPortName), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

func desiredPDB(v *vmcpv1alpha1.VirtualMCPServer) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: objectMeta(v, v.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(v)},
		},
	}
}
