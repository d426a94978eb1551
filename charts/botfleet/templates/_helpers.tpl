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

{{- define "botfleet.tokensSecretName" -}}
{{- if .Values.tokens.existingSecret }}{{ .Values.tokens.existingSecret }}{{ else }}{{ include "botfleet.fullname" . }}-tokens{{ end }}
{{- end }}

{{/*
In-cluster URLs: through the Services, or on hostNetwork at 127.0.0.1 (server replica 0 for the
server; every pod shares the node's loopback).
*/}}
{{- define "botfleet.serverUrl" -}}
http://{{ if .Values.hostNetwork }}127.0.0.1{{ else }}{{ include "botfleet.serverName" . }}{{ end }}:{{ .Values.server.port | int64 }}
{{- end }}

{{- define "botfleet.controllerUrl" -}}
http://{{ if .Values.hostNetwork }}127.0.0.1{{ else }}{{ include "botfleet.controllerName" . }}{{ end }}:{{ .Values.controller.port | int64 }}
{{- end }}

{{- define "botfleet.dashboardUrl" -}}
http://{{ if .Values.hostNetwork }}127.0.0.1{{ else }}{{ include "botfleet.dashboardName" . }}{{ end }}:{{ .Values.dashboard.port | int64 }}
{{- end }}

{{/* The interface components listen on: every one, or loopback only on the node's network. */}}
{{- define "botfleet.listenHost" -}}
{{ if .Values.hostNetwork }}127.0.0.1{{ else }}0.0.0.0{{ end }}
{{- end }}

{{/*
The token variables of the given roles, always from the tokens Secret: never a literal in values, env
or a ConfigMap. Called with (dict "root" . "roles" (list "admin" "viewer")); a pod gets only the
roles it uses.
*/}}
{{- define "botfleet.tokenEnv" -}}
{{- $root := .root }}
{{- $env := list }}
{{- range $role := .roles }}
{{- $ref := dict "name" (include "botfleet.tokensSecretName" $root) "key" (index $root.Values.tokens (printf "%sKey" $role)) }}
{{- $env = append $env (dict "name" (printf "%s_TOKEN" (upper $role)) "valueFrom" (dict "secretKeyRef" $ref)) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
Pod-spec fields every pod shares. Service links are off because Kubernetes would otherwise inject
variables such as <SERVICE>_PORT=tcp://…, which could shadow this app's own *_PORT settings.
*/}}
{{- define "botfleet.podCommon" -}}
enableServiceLinks: false
{{- if .Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
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

{{/* The /healthz URLs the `helm test` pod fetches. */}}
{{- define "botfleet.testUrls" -}}
{{- $urls := list (printf "%s/healthz" (include "botfleet.dashboardUrl" .)) }}
{{- if .Values.hostNetwork }}
{{- range $i := until (int .Values.server.replicas) }}
{{- $urls = append $urls (printf "http://127.0.0.1:%d/healthz" (add (int $.Values.server.port) $i)) }}
{{- end }}
{{- else }}
{{- $urls = append $urls (printf "%s/healthz" (include "botfleet.serverUrl" .)) }}
{{- end }}
{{- join " " $urls }}
{{- end }}

{{/*
Probes of a server replica on hostNetwork, whose port (server.port + its ordinal) the pod template
cannot name: bash sends GET /healthz to that port through /dev/tcp and wants a 200 status line.
Bash, not node: a probe that starts node every few seconds costs a core's worth of start-ups on a
small node, and is slow enough under load to fail the liveness probe of a healthy server. Same
timing as botfleet.httpProbes.
*/}}
{{- define "botfleet.serverReplicaProbes" -}}
{{- $check := printf "exec 3<>/dev/tcp/127.0.0.1/$((%d + ${POD_NAME##*-})) && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]" (int64 .Values.server.port) -}}
startupProbe:
  exec: { command: ["bash", "-c", {{ $check | quote }}] }
  periodSeconds: 2
  timeoutSeconds: 5
  failureThreshold: 30
readinessProbe:
  exec: { command: ["bash", "-c", {{ $check | quote }}] }
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 2
livenessProbe:
  exec: { command: ["bash", "-c", {{ $check | quote }}] }
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
{{- end }}
