{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "opensqt.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name. */}}
{{- define "opensqt.fullname" -}}
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

{{/* Name of one app's objects. Call with (dict "ctx" $ "component" "market-maker"). */}}
{{- define "opensqt.componentName" -}}
{{- printf "%s-%s" (include "opensqt.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "opensqt.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opensqt.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "opensqt.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "opensqt.selectorLabels" . }}
app.kubernetes.io/part-of: opensqt
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "opensqt.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* gRPC address of the connector, as its clients dial it. */}}
{{- define "opensqt.connectorAddress" -}}
{{- printf "%s:%d" (include "opensqt.componentName" (dict "ctx" . "component" "exchange-connector")) (int .Values.connector.grpcPort) }}
{{- end }}

{{/* Pod-level settings shared by every app. */}}
{{- define "opensqt.podCommon" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
# No <SERVICE>_PORT variables: they could shadow the apps' own settings (e.g. LIVE_PORT).
enableServiceLinks: false
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* env entries from a name: value map. */}}
{{- define "opensqt.envMap" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end }}

{{/* Secret with the connector tokens: connectorAuth.existingSecret or the one this chart creates. */}}
{{- define "opensqt.connectorAuthSecret" -}}
{{- .Values.connectorAuth.existingSecret | default (printf "%s-connector-auth" (include "opensqt.fullname" .)) }}
{{- end }}

{{/* CONNECTOR_TOKEN_FILE for a client app (the token is mounted by "opensqt.clientTokenVolume"). */}}
{{- define "opensqt.clientTokenEnv" -}}
- name: CONNECTOR_TOKEN_FILE
  value: /var/run/secrets/opensqt/connector/token
{{- end }}

{{/* Volume with a client's connector token. Call with (dict "ctx" $ "key" "…"). */}}
{{- define "opensqt.clientTokenVolume" -}}
- name: connector-token
  secret:
    secretName: {{ include "opensqt.connectorAuthSecret" .ctx }}
    defaultMode: 0400
    items:
      - { key: {{ .key }}, path: token }
{{- end }}

{{- define "opensqt.clientTokenMount" -}}
- name: connector-token
  mountPath: /var/run/secrets/opensqt/connector
  readOnly: true
{{- end }}

{{/*
Client side of connectorTls (market maker, live server): env and volume mount / volume.
*/}}
{{- define "opensqt.clientTlsEnv" -}}
{{- $t := .Values.connectorTls }}
{{- if $t.serverSecret }}
- name: CONNECTOR_TLS_CA_FILE
  value: /etc/opensqt/connector-tls/ca.crt
{{- if $t.clientSecret }}
- name: CONNECTOR_TLS_CERT_FILE
  value: /etc/opensqt/connector-tls/tls.crt
- name: CONNECTOR_TLS_KEY_FILE
  value: /etc/opensqt/connector-tls/tls.key
{{- end }}
{{- end }}
{{- end }}

{{- define "opensqt.clientTlsMount" -}}
{{- if .Values.connectorTls.serverSecret }}
- name: connector-tls
  mountPath: /etc/opensqt/connector-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "opensqt.clientTlsVolume" -}}
{{- $t := .Values.connectorTls }}
{{- if $t.serverSecret }}
- name: connector-tls
  secret:
    secretName: {{ $t.clientSecret | default $t.serverSecret }}
    {{- if not $t.clientSecret }}
    items: [{ key: ca.crt, path: ca.crt }]
    {{- end }}
{{- end }}
{{- end }}
