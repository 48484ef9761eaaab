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

{{/*
Image lookups (imageLookup): where the registry files are mounted, the CA's
source, the policy's images: block, and a checksum of all of it for the pod
template, so a change rolls the pods. Fails the render when the lookup
budget does not fit in the API server's wait.
*/}}
{{- define "podguard.registryDir" -}}
/etc/podguard/registry
{{- end }}

{{- define "podguard.registryCASource" -}}
{{- $ca := .Values.imageLookup.ca }}
{{- if and $ca.existingSecret $ca.existingConfigMap }}
{{- fail "imageLookup.ca: set existingSecret or existingConfigMap, not both" }}
{{- end }}
{{- if $ca.existingSecret }}
secret:
  name: {{ $ca.existingSecret }}
  items:
    - key: {{ $ca.key | quote }}
      path: ca.crt
{{- else if $ca.existingConfigMap }}
configMap:
  name: {{ $ca.existingConfigMap }}
  items:
    - key: {{ $ca.key | quote }}
      path: ca.crt
{{- end }}
{{- end }}

{{- define "podguard.imagesConfig" -}}
{{- $l := .Values.imageLookup }}
{{- if ge (float64 $l.timeoutSeconds) (float64 .Values.timeoutSeconds) }}
{{- fail (printf "imageLookup.timeoutSeconds (%v) must be below timeoutSeconds (%v), the API server's wait for podguard: otherwise the API server gives up before podguard answers with imageLookup.onError, and failurePolicy (%s) decides instead. Lower imageLookup.timeoutSeconds or raise timeoutSeconds (at most 30), leaving a second or more for the review itself." $l.timeoutSeconds .Values.timeoutSeconds .Values.failurePolicy) }}
{{- end }}
{{- /* Integers as int64: Helm reads numbers as float64, which toYaml writes
       as 1e+06 from a million on, a string to a YAML 1.1 reader. */}}
{{- $cache := dict "tagTtlSeconds" (int64 $l.cache.tagTtlSeconds) "errorTtlSeconds" (int64 $l.cache.errorTtlSeconds) "maxEntries" (int64 $l.cache.maxEntries) }}
{{- $images := dict "lookup" true "timeoutSeconds" $l.timeoutSeconds "onError" $l.onError "platforms" $l.platforms "cache" $cache }}
{{- with $l.mirrors }}{{ $_ := set $images "mirrors" . }}{{ end }}
{{- with $l.insecureRegistries }}{{ $_ := set $images "insecureRegistries" . }}{{ end }}
{{- if $l.credentials.existingSecret }}
{{- $_ := set $images "credentials" (printf "%s/config.json" (include "podguard.registryDir" .)) }}
{{- end }}
{{- if include "podguard.registryCASource" . }}
{{- $_ := set $images "caFile" (printf "%s/ca.crt" (include "podguard.registryDir" .)) }}
{{- end }}
{{- toYaml $images }}
{{- end }}

{{- define "podguard.imageLookupChecksum" -}}
{{- $l := .Values.imageLookup }}
{{- list (include "podguard.imagesConfig" .) $l.credentials $l.ca | toJson | sha256sum }}
{{- end }}
