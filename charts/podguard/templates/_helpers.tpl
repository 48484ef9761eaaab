{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "podguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every object: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart>". 63 characters at
most, since it is also the Service name (a DNS label).
*/}}
{{- define "podguard.fullname" -}}
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

{{- define "podguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of the webhook pods (immutable in the Deployment: never add
labels that change between releases here).
*/}}
{{- define "podguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/*
Labels of every object: commonLabels, then the chart's (which win).
*/}}
{{- define "podguard.labels" -}}
{{- $own := dict
  "helm.sh/chart" (include "podguard.chart" .)
  "app.kubernetes.io/name" (include "podguard.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/version" (.Chart.AppVersion | toString)
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/part-of" "podguard" }}
{{- merge $own .Values.commonLabels | toYaml }}
{{- end }}

{{/*
Labels of the objects of one component ("webhook", "certgen", "test").
*/}}
{{- define "podguard.componentLabels" -}}
{{- $ctx := index . 0 }}
{{- include "podguard.labels" $ctx }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
Labels of the webhook's own objects (Deployment, Service, pods).
*/}}
{{- define "podguard.webhookLabels" -}}
{{ include "podguard.componentLabels" (list . "webhook") }}
{{- end }}

{{/*
The container image: repository[:tag][@digest]; the tag defaults to appVersion.
*/}}
{{- define "podguard.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString }}
{{- $ref := .Values.image.repository }}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end }}
{{- if .Values.image.digest }}{{ $ref = printf "%s@%s" $ref .Values.image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
Names of the Service and of the TLS Secret the pods mount.
*/}}
{{- define "podguard.serviceName" -}}
{{ include "podguard.fullname" . }}
{{- end }}

{{- define "podguard.tlsSecretName" -}}
{{- if and (eq .Values.tls.mode "existingSecret") .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "podguard.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The names the API server may use for the Service, which the serving
certificate must cover (the API server checks SANs, not the CN); it calls
<svc>.<ns>.svc.
*/}}
{{- define "podguard.dnsNames" -}}
{{- $svc := include "podguard.serviceName" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/*
cert-manager names (certManager mode).
*/}}
{{- define "podguard.certificateName" -}}
{{ include "podguard.fullname" . }}-tls
{{- end }}

{{/*
The ServiceAccount of the webhook pods.
*/}}
{{- define "podguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "podguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Ports in the pod: off the common ones with hostNetwork, where they are the
node's ports.
*/}}
{{- define "podguard.httpsPort" -}}
{{- if .Values.containerPort }}{{ .Values.containerPort }}{{ else if .Values.hostNetwork }}10260{{ else }}8443{{ end }}
{{- end }}

{{- define "podguard.metricsPort" -}}
{{- if .Values.metricsPort }}{{ .Values.metricsPort }}{{ else if .Values.hostNetwork }}10261{{ else }}9090{{ end }}
{{- end }}

{{/*
Webhook pods that are always there: replicaCount, or autoscaling.minReplicas.
*/}}
{{- define "podguard.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
The CA that verifies the serving certificate, for the helm test Pod: the
TLS Secret's ca.crt, except with existingSecret (whose Secret may have no
ca.crt), where it is tls.caBundle in a ConfigMap.
*/}}
{{- define "podguard.testCAVolume" -}}
{{- if eq .Values.tls.mode "existingSecret" }}
configMap:
  name: {{ include "podguard.fullname" . }}-test-ca
{{- else }}
secret:
  secretName: {{ include "podguard.tlsSecretName" . }}
  items:
    - key: ca.crt
      path: ca.crt
{{- end }}
{{- end }}

{{/*
Fails with `message` when the cluster lacks the API group/version `api`.
Only when installing or upgrading (helm template included): `helm lint`
knows no cluster, so it renders everything.
Usage: include "podguard.requireAPI" (list . "cert-manager.io/v1" "message")
*/}}
{{- define "podguard.requireAPI" -}}
{{- $ctx := index . 0 }}
{{- if and (or $ctx.Release.IsInstall $ctx.Release.IsUpgrade) (not ($ctx.Capabilities.APIVersions.Has (index . 1))) }}
{{- fail (index . 2) }}
{{- end }}
{{- end }}
