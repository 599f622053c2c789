{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "vmcp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for object names: the release name, plus the chart name unless the release name
already contains it. Truncated so that suffixes like "-leader-election" still fit.
*/}}
{{- define "vmcp-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 45 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vmcp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the manager pods; never change them after a release (selectors are immutable). */}}
{{- define "vmcp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vmcp-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller-manager
{{- end }}

{{/* Labels on every object. */}}
{{- define "vmcp-operator.labels" -}}
helm.sh/chart: {{ include "vmcp-operator.chart" . }}
{{ include "vmcp-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vmcp-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* metadata.annotations for every object, or nothing. */}}
{{- define "vmcp-operator.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "vmcp-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vmcp-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image reference: repository with digest, or with tag (default: appVersion). */}}
{{- define "vmcp-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Default aggregator image: vmcpImage, else the operator image (it contains /vmcp). */}}
{{- define "vmcp-operator.vmcpImage" -}}
{{- default (include "vmcp-operator.image" .) .Values.vmcpImage }}
{{- end }}

{{/*
The manager's permissions. Keep these rules identical to config/rbac/role.yaml, which controller-gen
generates from the +kubebuilder:rbac markers in internal/controller (test/chart fails on any drift).
They are used in a ClusterRole, or in a Role per watched namespace, so they must all be namespaced.
*/}}
{{- define "vmcp-operator.managerRules" -}}
- apiGroups:
  - ""
  resources:
  - configmaps
  - serviceaccounts
  - services
  verbs:
  - create
  - get
  - list
  - update
  - watch
- apiGroups:
  - apps
  resources:
  - deployments
  verbs:
  - create
  - get
  - list
  - update
  - watch
- apiGroups:
  - discovery.k8s.io
  resources:
  - endpointslices
  verbs:
  - get
  - list
  - watch
- apiGroups:
  - events.k8s.io
  resources:
  - events
  verbs:
  - create
  - patch
- apiGroups:
  - policy
  resources:
  - poddisruptionbudgets
  verbs:
  - create
  - delete
  - get
  - list
  - update
  - watch
- apiGroups:
  - vmcp.dev
  resources:
  - virtualmcpservers
  verbs:
  - get
  - list
  - watch
- apiGroups:
  - vmcp.dev
  resources:
  - virtualmcpservers/finalizers
  verbs:
  - update
- apiGroups:
  - vmcp.dev
  resources:
  - virtualmcpservers/status
  verbs:
  - get
  - patch
{{- end }}
