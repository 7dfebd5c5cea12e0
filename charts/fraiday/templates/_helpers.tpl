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

{{/* The worker's component name: workers.chatWorkflow -> chat-workflow-worker, so with
fullnameOverride=api-service the Deployment is the Go service's api-service-chat-workflow-worker. */}}
{{- define "fraiday.workerComponent" -}}
{{- printf "%s-worker" (kebabcase .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The workers to render, name -> settings, as JSON: `workers` when it has entries (they replace
`defaultWorkers`, never sit beside them), else `defaultWorkers`; each merged over `workerDefaults`. */}}
{{- define "fraiday.workers" -}}
{{- $workers := dict }}
{{- range $name, $entry := (.Values.workers | default .Values.defaultWorkers) }}
{{- $worker := mergeOverwrite (deepCopy $.Values.workerDefaults) ($entry | default dict) }}
{{- if not $worker.queues }}
{{- fail (printf "workers.%s.queues must list at least one queue" $name) }}
{{- end }}
{{- $_ := set $workers $name $worker }}
{{- end }}
{{- if not $workers }}
{{- fail "workers: at least one worker is needed (or leave workers empty for defaultWorkers)" }}
{{- end }}
{{- toJson $workers }}
{{- end }}

{{/* Task type -> queue, as JSON: each type's own queue (handlers/task_types.py); the semantic-layer sync on
the Go service's `default` queue when a worker consumes `default` and none `semantic_layer`; then
`taskQueues`. Refuses a routed queue no worker consumes and a consumed queue no task is routed to. */}}
{{- define "fraiday.taskQueues" -}}
{{- $consumers := dict }}
{{- range $name, $worker := include "fraiday.workers" . | fromJson }}
{{- range $worker.queues }}
{{- $_ := set $consumers . $name }}
{{- end }}
{{- end }}
{{- $routes := dict "chat:workflow" "chat_workflow" "suggestion:workflow" "chat_workflow" "event:process" "events" "semantic_layer:sync" "semantic_layer" }}
{{- if and (hasKey $consumers "default") (not (hasKey $consumers "semantic_layer")) }}
{{- $_ := set $routes "semantic_layer:sync" "default" }}
{{- end }}
{{- range $type, $queue := .Values.taskQueues }}
{{- if not (hasKey $routes $type) }}
{{- fail (printf "taskQueues: unknown task type %q (known: %s)" $type (keys $routes | sortAlpha | join ", ")) }}
{{- end }}
{{- $_ := set $routes $type $queue }}
{{- end }}
{{- range $type := keys $routes | sortAlpha }}
{{- $queue := get $routes $type }}
{{- if not (hasKey $consumers $queue) }}
{{- fail (printf "task type %s is routed to queue %q, which no worker consumes: add %q to a worker's queues, or route the type elsewhere with taskQueues" $type $queue $queue) }}
{{- end }}
{{- end }}
{{- $routed := values $routes }}
{{- range $queue := keys $consumers | sortAlpha }}
{{- if not (has $queue $routed) }}
{{- fail (printf "workers.%s consumes queue %q, to which no task type is routed: route one there with taskQueues (e.g. taskQueues.semantic_layer:sync: %s)" (get $consumers $queue) $queue $queue) }}
{{- end }}
{{- end }}
{{- toJson $routes }}
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

{{/* Plain values, then the task routing every role must agree on (enqueuer and consumer). */}}
{{- define "fraiday.plainEnv" -}}
{{- if hasKey .Values.env "FRAIDAY_TASK_QUEUES" }}
{{- fail "env.FRAIDAY_TASK_QUEUES: set taskQueues instead (the chart derives FRAIDAY_TASK_QUEUES from it and checks that every routed queue has a worker)" }}
{{- end }}
{{- range $key, $value := .Values.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- $pairs := list }}
{{- $routes := include "fraiday.taskQueues" . | fromJson }}
{{- range $type := keys $routes | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%s" $type (get $routes $type)) }}
{{- end }}
- name: FRAIDAY_TASK_QUEUES
  value: {{ join "," $pairs | quote }}
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

{{/* Where fraiday's Redis is, as JSON {host, port, db, tls}, from what `env` shows: the parts of
REDIS_URL, else REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_TLS with fraiday's defaults. host is empty
when it is only in the secret. For KEDA and the NetworkPolicy, which cannot read fraiday's settings. */}}
{{- define "fraiday.redisEndpoint" -}}
{{- $env := .Values.env }}
{{- $tls := has (lower (toString (default "false" $env.REDIS_TLS))) (list "true" "1" "yes" "on" "t" "y") }}
{{- $endpoint := dict "host" (default "" $env.REDIS_HOST) "port" (toString (default 6379 $env.REDIS_PORT)) "db" (toString (default 0 $env.REDIS_DB)) "tls" $tls }}
{{- if $env.REDIS_URL }}
{{- $url := urlParse (toString $env.REDIS_URL) }}
{{- $hostPort := regexFind ":[0-9]+$" $url.host }}
{{- $_ := set $endpoint "host" (trimSuffix $hostPort $url.host | trimPrefix "[" | trimSuffix "]") }}
{{- $_ := set $endpoint "port" (default "6379" (trimPrefix ":" $hostPort)) }}
{{- $_ := set $endpoint "db" (default "0" (trimPrefix "/" $url.path)) }}
{{- $_ := set $endpoint "tls" (eq $url.scheme "rediss") }}
{{- end }}
{{- toJson $endpoint }}
{{- end }}

{{/* The AI service's port from AI_SERVICE_URL in `env` (443 for https, 80 for http), or "" when unknown. */}}
{{- define "fraiday.aiServicePort" -}}
{{- with .Values.env.AI_SERVICE_URL }}
{{- $url := urlParse (toString .) }}
{{- $port := trimPrefix ":" (regexFind ":[0-9]+$" $url.host) }}
{{- default (ternary "80" "443" (eq $url.scheme "http")) $port }}
{{- end }}
{{- end }}
