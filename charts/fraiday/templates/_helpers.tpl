{{/* Names and labels, as `helm create` lays them out. */}}

{{- define "fraiday.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fraiday.fullname" -}}
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

{{- define "fraiday.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels; "component" is added per object (server, worker-<name>, scheduler). */}}
{{- define "fraiday.labels" -}}
helm.sh/chart: {{ include "fraiday.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "fraiday.selectorLabels" . }}
{{- end }}

{{- define "fraiday.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fraiday.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fraiday.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fraiday.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fraiday.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "fraiday.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if .Values.secret.create }}
{{- include "fraiday.fullname" . }}
{{- end }}
{{- end }}

{{/* The worker's component name: workers.chatWorkflow -> worker-chat-workflow. */}}
{{- define "fraiday.workerComponent" -}}
{{- printf "worker-%s" (kebabcase .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The environment every container shares: plain values, then the secret's keys. */}}
{{- define "fraiday.envFrom" -}}
{{- $secret := include "fraiday.secretName" . }}
{{- if $secret }}
envFrom:
  - secretRef:
      name: {{ $secret }}
{{- end }}
{{- end }}

{{- define "fraiday.plainEnv" -}}
{{- range $key, $value := .Values.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every Deployment. */}}
{{- define "fraiday.podCommon" -}}
serviceAccountName: {{ include "fraiday.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Container-level settings shared by every container. */}}
{{- define "fraiday.containerCommon" -}}
image: {{ include "fraiday.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- include "fraiday.envFrom" . }}
{{- end }}

{{/* Pod annotations: a changed secret or env rolls the pods. */}}
{{- define "fraiday.podAnnotations" -}}
checksum/config: {{ toJson (dict "env" .Values.env "secret" .Values.secret.values) | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
