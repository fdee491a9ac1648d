{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "eni.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: the release name, unless it already contains the chart name. */}}
{{- define "eni.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The controller's objects carry the full name; the agent's add "-agent". */}}
{{- define "eni.controller.fullname" -}}
{{- include "eni.fullname" . }}
{{- end }}

{{- define "eni.agent.fullname" -}}
{{- printf "%s-agent" (include "eni.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The cluster name, which every ENI is tagged with: required. */}}
{{- define "eni.clusterName" -}}
{{- required "clusterName is required: the name every ENI is tagged with (and the IAM policy's conditions name)" .Values.clusterName }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "eni.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "eni.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component's objects (argument: dict "root" . "component" "agent"). */}}
{{- define "eni.componentLabels" -}}
{{ include "eni.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one component (argument: dict "root" . "component" "controller"). */}}
{{- define "eni.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eni.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference of one component: repository:tag, or repository:tag@digest. */}}
{{/* A component's image: its own fields over the top-level `image`; a component with a
repository of its own does not take the top-level digest (it pins another image). */}}
{{- define "eni.image" -}}
{{- $top := .root.Values.image }}
{{- $repository := default $top.repository .image.repository }}
{{- $tag := default (default .root.Chart.AppVersion $top.tag) .image.tag }}
{{- $digest := .image.digest }}
{{- if and (not $digest) (not .image.repository) }}
{{- $digest = $top.digest }}
{{- end }}
{{- if $digest }}
{{- printf "%s:%s@%s" $repository $tag $digest }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{- define "eni.pullPolicy" -}}
{{- default .root.Values.image.pullPolicy .image.pullPolicy }}
{{- end }}

{{- define "eni.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "eni.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "eni.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "eni.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether the Prometheus operator's objects may be rendered. */}}
{{- define "eni.monitoringAPI" -}}
{{- if or (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") (not .Values.monitoring.requireOperatorAPI) }}true{{- end }}
{{- end }}

{{/*
The ownership ledger's ConfigMap: a fixed name, so that it survives a reinstall under
another release name.
*/}}
{{- define "eni.ledgerName" -}}
aws-multi-eni-controller-ledger
{{- end }}
