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
Labels of every object.
*/}}
{{- define "podguard.labels" -}}
helm.sh/chart: {{ include "podguard.chart" . }}
app.kubernetes.io/name: {{ include "podguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: podguard
{{- end }}

{{/*
Labels of the webhook's own objects (Deployment, Service, pods).
*/}}
{{- define "podguard.webhookLabels" -}}
{{ include "podguard.labels" . }}
app.kubernetes.io/component: webhook
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
