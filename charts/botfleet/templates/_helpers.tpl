{{/*
Names, labels and shared snippets, in the `helm create` style. Component templates call the
"component" helpers with (dict "root" . "component" "<name>").
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "botfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 52 characters: a StatefulSet's pods carry a
controller-revision-hash label made of its name plus 11 characters, and labels stop at 63.
*/}}
{{- define "botfleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "botfleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names of the components; the controller finds the bots Deployment and its ConfigMap by these. */}}
{{- define "botfleet.serverName" -}}{{ include "botfleet.fullname" . }}-server{{- end }}
{{- define "botfleet.botsName" -}}{{ include "botfleet.fullname" . }}-bots{{- end }}
{{- define "botfleet.dashboardName" -}}{{ include "botfleet.fullname" . }}-dashboard{{- end }}
{{- define "botfleet.controllerName" -}}{{ include "botfleet.fullname" . }}-controller{{- end }}

{{- define "botfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "botfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "botfleet.labels" -}}
helm.sh/chart: {{ include "botfleet.chart" . }}
{{ include "botfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: botfleet
{{- end }}

{{- define "botfleet.componentSelectorLabels" -}}
{{ include "botfleet.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "botfleet.componentLabels" -}}
{{ include "botfleet.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "botfleet.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* "true" when the server uses an external PostgreSQL, "" otherwise (include returns strings). */}}
{{- define "botfleet.usePostgres" -}}
{{- if or .Values.postgresql.url .Values.postgresql.existingSecret }}true{{ end }}
{{- end }}

{{- define "botfleet.databaseSecretName" -}}
{{- if .Values.postgresql.existingSecret }}{{ .Values.postgresql.existingSecret }}{{ else }}{{ include "botfleet.fullname" . }}-postgresql{{ end }}
{{- end }}

{{- define "botfleet.adminSecretName" -}}
{{- if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecret }}{{ else }}{{ include "botfleet.fullname" . }}-admin-token{{ end }}
{{- end }}

{{- define "botfleet.serverUrl" -}}
http://{{ include "botfleet.serverName" . }}:{{ .Values.server.port | int64 }}
{{- end }}

{{/* The admin token, always from the Secret: never a literal in values, env or a ConfigMap. */}}
{{- define "botfleet.adminTokenEnv" -}}
- name: ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "botfleet.adminSecretName" . }}
      key: {{ .Values.adminToken.secretKey }}
{{- end }}

{{/*
Pod-spec fields every pod shares. Service links are off because Kubernetes would otherwise inject
variables such as <SERVICE>_PORT=tcp://…, which could shadow this app's own *_PORT settings.
*/}}
{{- define "botfleet.podCommon" -}}
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Probes on GET /healthz of the named port "http". */}}
{{- define "botfleet.httpProbes" -}}
startupProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 2
  failureThreshold: 30
readinessProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 6
{{- end }}

{{/* Writable scratch space: the root file system is read-only. */}}
{{- define "botfleet.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
