{{/*
Names, labels and shared pieces. Every object carries the standard
app.kubernetes.io/* labels; selectors use name + instance + component.
*/}}

{{- define "mcp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-operator.fullname" -}}
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

{{- define "mcp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "mcp-operator.labels" -}}
helm.sh/chart: {{ include "mcp-operator.chart" . }}
app.kubernetes.io/name: {{ include "mcp-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcp-operator
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "webhook") */}}
{{- define "mcp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-operator.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects: (dict "ctx" $ "component" "webhook") */}}
{{- define "mcp-operator.componentLabels" -}}
{{ include "mcp-operator.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mcp-operator.webhook.fullname" -}}
{{- printf "%s-webhook" (include "mcp-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ClusterRole the controller binds to each proxy's ServiceAccount. */}}
{{- define "mcp-operator.proxy.clusterRole" -}}
{{- printf "%s-proxy" (include "mcp-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-operator.controller.fullname" -}}
{{- printf "%s-controller" (include "mcp-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Secret holding the webhook's serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "mcp-operator.webhook.certSecret" -}}
{{- printf "%s-tls" (include "mcp-operator.webhook.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* cert-manager Certificate name (namespace/name goes in inject-ca-from). */}}
{{- define "mcp-operator.webhook.certificate" -}}
{{- printf "%s-serving" (include "mcp-operator.webhook.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* image reference: (dict "image" .Values.webhook.image "ctx" $) */}}
{{- define "mcp-operator.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The serving certificate's subjectAltName DNS names. */}}
{{- define "mcp-operator.webhook.dnsNames" -}}
{{- $svc := include "mcp-operator.webhook.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $names := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) }}
{{- concat $names .Values.webhook.certificate.extraDNSNames | toJson }}
{{- end }}

{{/*
The generated CA and serving certificate, as a dict of base64 PEM
(caCrt, tlsCrt, tlsKey) plus "sans" (what they were made for). Computed once
per render and memoised on the root context, so the Secret and both webhook
configurations see the same CA. On upgrade the existing Secret is reused
(lookup) while it was made for the same subjectAltNames, so the CA and the
certificate survive `helm upgrade`. `helm template` cannot look up, so it
renders a fresh pair each time.
*/}}
{{- define "mcp-operator.webhook.generatedCert" -}}
{{- if not (hasKey $ "mcpOperatorWebhookCert") }}
{{- $dns := include "mcp-operator.webhook.dnsNames" . | fromJsonArray }}
{{- $ips := .Values.webhook.certificate.extraIPs }}
{{- $sans := printf "dns=%s;ip=%s" (join "," $dns) (join "," $ips) }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "mcp-operator.webhook.certSecret" .) }}
{{- $cert := dict }}
{{- if and $secret $secret.data $secret.metadata.annotations }}
{{- $data := $secret.data }}
{{- if and (eq (index $secret.metadata.annotations "mcp-operator.toolhive.stacklok.dev/sans" | default "") $sans) (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") }}
{{- $cert = dict "caCrt" (index $data "ca.crt") "tlsCrt" (index $data "tls.crt") "tlsKey" (index $data "tls.key") }}
{{- end }}
{{- end }}
{{- if not $cert }}
{{- $days := int .Values.webhook.certificate.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "mcp-operator.webhook.fullname" .)) $days }}
{{- $srv := genSignedCert (index $dns 2) $ips $dns $days $ca }}
{{- $cert = dict "caCrt" ($ca.Cert | b64enc) "tlsCrt" ($srv.Cert | b64enc) "tlsKey" ($srv.Key | b64enc) }}
{{- end }}
{{- $_ := set $cert "sans" $sans }}
{{- $_ := set $ "mcpOperatorWebhookCert" $cert }}
{{- end }}
{{- index $ "mcpOperatorWebhookCert" | toJson }}
{{- end }}

{{/* Pod-level security context shared by both Deployments. */}}
{{- define "mcp-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context shared by both Deployments. */}}
{{- define "mcp-operator.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Probes on the plain-HTTP health port named "health". */}}
{{- define "mcp-operator.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: health
  initialDelaySeconds: 5
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: health
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 3
{{- end }}

{{/* Validate value combinations the schema cannot express. */}}
{{- define "mcp-operator.validate" -}}
{{- if and (gt (int .Values.controller.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "controller.replicas > 1 needs leaderElection.enabled=true (only the Lease holder may reconcile)" }}
{{- end }}
{{- if and .Values.certManager.enabled .Values.certManager.issuerRef (not .Values.certManager.issuerRef.name) }}
{{- fail "certManager.issuerRef needs a name" }}
{{- end }}
{{- end }}
