{{/* Names ------------------------------------------------------------------------------------------ */}}

{{- define "gleaner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gleaner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: dict "root" $ "component" "api" */}}
{{- define "gleaner.componentName" -}}
{{- printf "%s-%s" (include "gleaner.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: the recommended set; selectors use name, instance and component only ------------------------ */}}

{{- define "gleaner.labels" -}}
{{ include "gleaner.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: gleaner
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gleaner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gleaner.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every pod of the release that talks to Redis and PostgreSQL (the data stores' NetworkPolicies) */}}
{{- define "gleaner.clientSelector" -}}
app.kubernetes.io/name: {{ include "gleaner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
gleaner.io/data-client: "true"
{{- end -}}

{{/* Images: dict "root" $ "image" <component image values> --------------------------------------------- */}}
{{/* The global registry prefixes every image, the built-in PostgreSQL and Redis too; a digest wins over the tag. */}}
{{- define "gleaner.image" -}}
{{- $repo := .image.repository -}}
{{- with .root.Values.image.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "gleaner.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Workers: an entry of `workers` merged over `workerDefaults` ---------------------------------------- */}}

{{/* Deep merge where the override always wins when it has the key, even with 0, false or "" (sprig's
     mergeOverwrite skips those, so `minReplicas: 0` would silently keep the default). Mutates .dst. */}}
{{- define "gleaner.merge" -}}
{{- $dst := .dst -}}
{{- range $key, $value := .src -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) -}}
{{- include "gleaner.merge" (dict "dst" (get $dst $key) "src" $value) -}}
{{- else -}}
{{- $_ := set $dst $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The effective values of one worker, as YAML: dict "root" $ "name" "parsing" */}}
{{- define "gleaner.worker" -}}
{{- $merged := deepCopy .root.Values.workerDefaults -}}
{{- include "gleaner.merge" (dict "dst" $merged "src" (deepCopy (get .root.Values.workers .name))) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Grace period that covers the job timeout: dict "worker" $w */}}
{{- define "gleaner.worker.grace" -}}
{{- $w := .worker -}}
{{- if gt (int $w.terminationGracePeriodSeconds) 0 -}}
{{- int $w.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int $w.jobTimeoutSeconds) (int $w.shutdownMarginSeconds) -}}
{{- end -}}
{{- end -}}

{{/* Seconds between the end of the worker's shutdown grace and the pod's SIGKILL: the worker's own stop
     timeout (gleaner.worker.DEFAULT_STOP_TIMEOUT_SECONDS), in which cut-off jobs reach a checkpoint and
     requeue. A test reads the constant from the code. */}}
{{- define "gleaner.worker.stopTimeout" -}}10{{- end -}}

{{/* GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS: the grace period minus the stop timeout, never below 0 */}}
{{- define "gleaner.worker.shutdownGrace" -}}
{{- max 0 (sub (int (include "gleaner.worker.grace" .)) (int (include "gleaner.worker.stopTimeout" .))) -}}
{{- end -}}

{{/* Autoscaling target, backlog per replica: the fixed value, else concurrency × backlog per job slot */}}
{{- define "gleaner.worker.targetBacklog" -}}
{{- $w := .worker -}}
{{- $a := $w.autoscaling -}}
{{- if gt (float64 $a.targetBacklogPerReplica) 0.0 -}}
{{- $a.targetBacklogPerReplica | toString -}}
{{- else -}}
{{- round (mulf (float64 $w.concurrency) (float64 $a.targetBacklogPerJobSlot)) 3 | toString -}}
{{- end -}}
{{- end -}}

{{/* Does this worker patch its pod's deletion cost? dict "root" $ "worker" $w; "true" or "" */}}
{{/* `auto` turns it on only where the patch can get through: its NetworkPolicy closes the API server's
     (private) address unless networkPolicy.kubeAPIServerCIDRs or the worker's extraEgress opens it. So a
     default install mounts no token and binds no Role: no pod write right until it can be used. */}}
{{- define "gleaner.worker.podCost" -}}
{{- if and .root.Values.rbac.create (ne .worker.podDeletionCost "off") -}}
{{- if or (eq .worker.podDeletionCost "on") (include "gleaner.worker.reachesAPIServer" .) -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Can this worker's pods reach the Kubernetes API server? "true" or "" (dict "root" $ "worker" $w) */}}
{{- define "gleaner.worker.reachesAPIServer" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- if or (not $np.enabled) $np.kubeAPIServerCIDRs .worker.networkPolicy.extraEgress -}}true{{- end -}}
{{- end -}}

{{/* Secrets and URLs -------------------------------------------------------------------------------- */}}

{{- define "gleaner.apiKeySecretName" -}}
{{- .Values.api.auth.existingSecret | default (include "gleaner.componentName" (dict "root" . "component" "api-key")) -}}
{{- end -}}

{{- define "gleaner.postgresqlSecretName" -}}
{{- .Values.postgresql.existingSecret | default (include "gleaner.componentName" (dict "root" . "component" "postgresql")) -}}
{{- end -}}

{{- define "gleaner.modelKeysSecretName" -}}
{{- .Values.modelKeys.existingSecret | default (include "gleaner.componentName" (dict "root" . "component" "model-keys")) -}}
{{- end -}}

{{/* GLEANER_MODEL_KEYS_ENCRYPTION_KEY from its Secret, for the API (encrypts tenants' provider keys) and
     the AI worker (decrypts them); nothing else gets it */}}
{{- define "gleaner.modelKeysEnv" -}}
{{- if .Values.modelKeys.enabled }}
- name: GLEANER_MODEL_KEYS_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "gleaner.modelKeysSecretName" . }}, key: {{ .Values.modelKeys.existingSecretKey }}}
{{- end }}
{{- end -}}

{{/* A component's ServiceAccount name: dict "root" $ "component" "api"|"worker" */}}
{{- define "gleaner.serviceAccountName" -}}
{{- (get .root.Values.serviceAccount .component).name | default (include "gleaner.componentName" (dict "root" .root "component" .component)) -}}
{{- end -}}

{{/* Does the chart create that ServiceAccount? "true" or "" */}}
{{- define "gleaner.serviceAccountCreate" -}}
{{- if and .root.Values.serviceAccount.create (get .root.Values.serviceAccount .component).create -}}true{{- end -}}
{{- end -}}

{{/* A random secret value, kept across upgrades: the live Secret's value when there is one */}}
{{- define "gleaner.secretValue" -}}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- index $live.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 40 -}}
{{- end -}}
{{- end -}}

{{/* The pod's identity from the downward API: workers name their RQ workers after it and patch their own
     pod's deletion cost with it */}}
{{- define "gleaner.podIdentityEnv" -}}
- name: GLEANER_POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: GLEANER_POD_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
{{- end -}}

{{/* The external stores' values: externalDatabase / externalRedis, or the keys they replace
     (database.external.*, redisExternal.*), which keep working. */}}
{{- define "gleaner.externalDatabaseSecret" -}}
{{- .Values.externalDatabase.existingSecret | default .Values.database.external.existingSecret -}}
{{- end -}}

{{- define "gleaner.externalRedisSecret" -}}
{{- .Values.externalRedis.existingSecret | default .Values.redisExternal.existingSecret -}}
{{- end -}}

{{/* Environment every Gleaner container gets: the store URLs (the shared ConfigMap comes through envFrom).
     A password travels alone in GLEANER_DATABASE_PASSWORD and Settings puts it into the URL quoted, so
     `@:/?#%` in it cannot break the URL (a kubelet $(VAR) expansion into the URL would not quote it). */}}
{{- define "gleaner.env" -}}
{{- $ext := .Values.externalDatabase }}
{{- if .Values.postgresql.enabled }}
- name: GLEANER_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "gleaner.postgresqlSecretName" . }}, key: password}
- name: GLEANER_DATABASE_URL
  value: {{ printf "postgresql://%s@%s:5432/%s" .Values.postgresql.username (include "gleaner.componentName" (dict "root" . "component" "postgresql")) .Values.postgresql.database | quote }}
{{- else if $ext.host }}
- name: GLEANER_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "gleaner.externalDatabaseSecret" . }}, key: {{ $ext.passwordKey }}}
- name: GLEANER_DATABASE_URL
  value: {{ printf "postgresql://%s@%s:%d/%s" (urlquery $ext.user) $ext.host (int $ext.port) $ext.database | quote }}
{{- else }}
- name: GLEANER_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "gleaner.externalDatabaseSecret" . }}, key: {{ $ext.urlKey | default .Values.database.external.urlKey }}}
{{- end }}
{{- if .Values.redis.enabled }}
- name: GLEANER_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "gleaner.componentName" (dict "root" . "component" "redis")) | quote }}
{{- else }}
- name: GLEANER_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "gleaner.externalRedisSecret" . }}, key: {{ .Values.externalRedis.urlKey | default .Values.redisExternal.urlKey }}}
{{- end }}
{{- end -}}

{{/* The standard OTEL_* variables, when tracing is on: dict "root" $ "component" <service name suffix> */}}
{{- define "gleaner.tracingEnv" -}}
{{- $t := .root.Values.tracing -}}
{{- if $t.enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "gleaner-%s" .component | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $t.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerRatio | toString | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ list (printf "k8s.namespace.name=%s" .root.Release.Namespace) $t.resourceAttributes | compact | join "," | quote }}
{{- with $t.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: headers}
{{- end }}
{{- end }}
{{- end -}}

{{- define "gleaner.envFrom" -}}
- configMapRef:
    name: {{ include "gleaner.fullname" . }}-config
{{- end -}}

{{/* Pod template annotations: roll pods when the shared settings change */}}
{{- define "gleaner.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/config.yaml") . | sha256sum }}
{{- end -}}

{{/* Writable scratch space under a read-only root filesystem (Python's tempfile, the SQLite fallback) */}}
{{- define "gleaner.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "gleaner.tmpVolume" -}}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
{{- end -}}

{{/* A container command, wrapped in the development reloader when dev.reload is on: dict "root" $
     "packages" <packages to watch besides gleaner> "stopTimeout" <seconds for a warm stop> "command" list */}}
{{- define "gleaner.command" -}}
{{- if .root.Values.dev.reload -}}
{{- $watch := list "python3" "-m" "gleaner.devreload" "--package" "gleaner" -}}
{{- range .packages }}{{ $watch = concat $watch (list "--package" .) }}{{ end -}}
{{- concat $watch (list "--stop-timeout" (toString .stopTimeout) "--") .command | toJson -}}
{{- else -}}
{{- .command | toJson -}}
{{- end -}}
{{- end -}}

{{/* A securityContext for the cluster: dict "root" $ "context" <map>. On OpenShift (its restricted SCC assigns
     each namespace's uid and fsGroup and refuses fixed ones) global.compatibility.openshift
     .adaptSecurityContext drops runAsUser, runAsGroup and fsGroup: `auto` when the cluster serves
     security.openshift.io/v1, `force` always, `disabled` never (the bitnami switch). */}}
{{- define "gleaner.securityContext" -}}
{{- $context := deepCopy .context -}}
{{- $mode := .root.Values.global.compatibility.openshift.adaptSecurityContext -}}
{{- if or (eq $mode "force") (and (eq $mode "auto") (.root.Capabilities.APIVersions.Has "security.openshift.io/v1")) -}}
{{- $context = omit $context "runAsUser" "runAsGroup" "fsGroup" -}}
{{- end -}}
{{- toYaml $context -}}
{{- end -}}

{{/* Chart conventions shared by the API, workers and reconciler: dict "root" $ "values" <component values> ----- */}}

{{/* Pod labels: podLabels under the chart's own, which win (selectors and NetworkPolicies rely on them).
     dict "root" $ "component" c "values" v "extra" <more chart labels> */}}
{{- define "gleaner.podLabels" -}}
{{- $labels := include "gleaner.labels" (dict "root" .root "component" .component) | fromYaml -}}
{{- $labels = merge $labels (.extra | default dict) -}}
{{- toYaml (merge $labels (deepCopy (.values.podLabels | default dict))) -}}
{{- end -}}

{{/* Pod spec fields: priorityClassName, topologySpreadConstraints */}}
{{- define "gleaner.podScheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A probe: dict "probe" <enabled + timings> "custom" <a whole Probe, wins when set> "path" p "port" name */}}
{{- define "gleaner.httpProbe" -}}
{{- if .custom -}}
{{- toYaml .custom -}}
{{- else if .probe.enabled -}}
httpGet: {path: {{ .path }}, port: {{ .port }}}
{{ toYaml (omit .probe "enabled") }}
{{- end -}}
{{- end -}}

{{/* Probes given whole (workers, reconciler: none by default): dict "values" v, container-level YAML */}}
{{- define "gleaner.customProbes" -}}
{{- range $probe := list "startupProbe" "readinessProbe" "livenessProbe" }}
{{- with get $.values $probe }}
{{ $probe }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Values that cannot be expressed in the schema fail the render with how to fix them ------------------ */}}
{{- define "gleaner.validateValues" -}}
{{- if and .Values.tracing.enabled (not .Values.tracing.endpoint) -}}
{{- fail "tracing.enabled is true: set tracing.endpoint to your collector's OTLP address (e.g. http://otel-collector.observability:4318)" -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not (include "gleaner.externalDatabaseSecret" .)) -}}
{{- fail "postgresql.enabled is false: set externalDatabase.existingSecret to a Secret holding the database URL (or its password, with externalDatabase.host)" -}}
{{- end -}}
{{- if and .Values.postgresql.enabled (include "gleaner.externalDatabaseSecret" .) -}}
{{- fail "externalDatabase.existingSecret (or database.external.existingSecret) is set while postgresql.enabled is true: turn one of them off" -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not (include "gleaner.externalRedisSecret" .)) -}}
{{- fail "redis.enabled is false: set externalRedis.existingSecret to a Secret holding the Redis URL" -}}
{{- end -}}
{{- if and .Values.redis.enabled (include "gleaner.externalRedisSecret" .) -}}
{{- fail "externalRedis.existingSecret (or redisExternal.existingSecret) is set while redis.enabled is true: turn one of them off" -}}
{{- end -}}
{{- if eq (include "gleaner.serviceAccountName" (dict "root" . "component" "api")) (include "gleaner.serviceAccountName" (dict "root" . "component" "worker")) -}}
{{- fail "serviceAccount.api.name and serviceAccount.worker.name are the same: the workers' account may patch pods, and the API, reconciler and jobs must not share it" -}}
{{- end -}}
{{- if and .Values.dev.reload (eq .Values.config.env "production") -}}
{{- fail "dev.reload is for development (skaffold dev): it restarts processes on file changes; set config.env=development or turn it off" -}}
{{- end -}}
{{- if not .Values.reconciler.enabled -}}
{{- fail "reconciler.enabled is false: the reconciler runs RQ's scheduler, which moves every delayed retry to its queue (workers do not), and recovers jobs of dead workers; without it retries would never run. Set reconciler.enabled=true (reconciler.replicas=1 is enough)" -}}
{{- end -}}
{{- range $name := keys .Values.workers | sortAlpha -}}
{{- $w := include "gleaner.worker" (dict "root" $ "name" $name) | fromYaml -}}
{{- $a := $w.autoscaling -}}
{{- if and (eq $a.mode "hpa") (lt (int $a.minReplicas) 1) -}}
{{- fail (printf "workers.%s.autoscaling.minReplicas is 0: an HPA needs 1 or more; use mode keda to scale to zero" $name) -}}
{{- end -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "workers.%s.autoscaling.minReplicas is above maxReplicas" $name) -}}
{{- end -}}
{{- if and (eq $a.mode "keda") (not ($.Capabilities.APIVersions.Has "keda.sh/v1alpha1")) -}}
{{- fail (printf "workers.%s.autoscaling.mode is keda but the cluster has no keda.sh/v1alpha1 API: install KEDA (or pass --api-versions keda.sh/v1alpha1 to helm template), or use mode hpa or none" $name) -}}
{{- end -}}
{{- if lt (int (include "gleaner.worker.grace" (dict "worker" $w))) (int $w.jobTimeoutSeconds) -}}
{{- fail (printf "workers.%s.terminationGracePeriodSeconds is below its jobTimeoutSeconds: a scale-down would kill running jobs" $name) -}}
{{- end -}}
{{- if and (eq $w.podDeletionCost "on") (not $.Values.rbac.create) -}}
{{- fail (printf "workers.%s.podDeletionCost is on but rbac.create is false: the worker could not patch its pod; set rbac.create=true or podDeletionCost to auto or off" $name) -}}
{{- end -}}
{{- if not $w.image.repository -}}
{{- fail (printf "workers.%s.image.repository is empty" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Autoscaler behavior, shared by the HPA and KEDA's generated HPA: the worker's autoscaling values */}}
{{- define "gleaner.autoscaling.behavior" -}}
scaleUp:
  stabilizationWindowSeconds: {{ .scaleUpStabilizationSeconds }}
  # Double, or add 4 pods, every 15 s, whichever is more: a burst of links is met within a minute.
  policies:
    - {type: Percent, value: 100, periodSeconds: 15}
    - {type: Pods, value: 4, periodSeconds: 15}
  selectPolicy: Max
scaleDown:
  stabilizationWindowSeconds: {{ .scaleDownStabilizationSeconds }}
  # Halve at most once a minute: each removed pod first finishes its running job.
  policies:
    - {type: Percent, value: 50, periodSeconds: 60}
  selectPolicy: Max
{{- end -}}

{{/* A pod spec for the commands of the API image (migrations, retention, the reconciler): dict "root" $ "args" list
     "resources" map, optional "restartPolicy" and "waitForSchema" (start only once the schema is migrated) */}}
{{- define "gleaner.commandPod" -}}
{{- $root := .root -}}
{{- /* The reconciler passes its values for the chart conventions (extra env, volumes, containers, …). */}}
{{- $v := .values | default dict -}}
serviceAccountName: {{ include "gleaner.serviceAccountName" (dict "root" $root "component" "api") }}
automountServiceAccountToken: false
restartPolicy: {{ .restartPolicy | default "OnFailure" }}
{{- include "gleaner.imagePullSecrets" $root }}
securityContext:
  {{- include "gleaner.securityContext" (dict "root" $root "context" $root.Values.podSecurityContext) | nindent 2 }}
{{- include "gleaner.podScheduling" (dict "values" $v) }}
{{- $init := "" }}
{{- if .waitForSchema }}{{ $init = include "gleaner.waitForSchema" (dict "root" $root "image" $root.Values.api.image) }}{{ end }}
{{- if or $init $v.extraInitContainers }}
initContainers:
  {{- with $init }}{{ . | nindent 2 }}{{ end }}
  {{- with $v.extraInitContainers }}{{ toYaml . | nindent 2 }}{{ end }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "gleaner.image" (dict "root" $root "image" $root.Values.api.image) | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    {{- $command := concat (list "python3" "-m" "gleaner_api") .args }}
    {{- /* Only a long-running pod (the reconciler) restarts on code changes; Jobs must end. */}}
    command: {{ ternary (include "gleaner.command" (dict "root" $root "packages" (list "gleaner_api") "stopTimeout" 30 "command" $command)) ($command | toJson) (eq (.restartPolicy | default "") "Always") }}
    envFrom:
      {{- include "gleaner.envFrom" $root | nindent 6 }}
      {{- with $v.extraEnvFrom }}{{ toYaml . | nindent 6 }}{{ end }}
    env:
      {{- include "gleaner.env" $root | nindent 6 }}
      {{- with include "gleaner.tracingEnv" (dict "root" $root "component" .name) }}{{ . | trim | nindent 6 }}{{ end }}
      {{- with $v.extraEnv }}{{ toYaml . | nindent 6 }}{{ end }}
    {{- with include "gleaner.customProbes" (dict "values" $v) }}{{ . | trim | nindent 4 }}{{ end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- include "gleaner.securityContext" (dict "root" $root "context" $root.Values.containerSecurityContext) | nindent 6 }}
    volumeMounts:
      {{- include "gleaner.tmpVolumeMount" $root | nindent 6 }}
      {{- with $v.extraVolumeMounts }}{{ toYaml . | nindent 6 }}{{ end }}
  {{- with $v.extraContainers }}{{ toYaml . | nindent 2 }}{{ end }}
volumes:
  {{- include "gleaner.tmpVolume" $root | nindent 2 }}
  {{- with $v.extraVolumes }}{{ toYaml . | nindent 2 }}{{ end }}
{{- end -}}

{{/* The init container of every pod that uses the database, except the migration Job: it waits, logging
     why, until the schema is at the image's migration head, since the migrate Job may run while the pods
     start (install, `useHelmHooks: false`, GitOps). dict "root" $ "image" <component image values> */}}
{{- define "gleaner.waitForSchema" -}}
{{- $root := .root -}}
{{- if $root.Values.migrations.waitForSchema }}
- name: wait-for-schema
  image: {{ include "gleaner.image" (dict "root" $root "image" .image) | quote }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command: ["python3", "-m", "gleaner.schema_wait"]
  envFrom:
    {{- include "gleaner.envFrom" $root | nindent 4 }}
  env:
    {{- include "gleaner.env" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.migrations.resources | nindent 4 }}
  securityContext:
    {{- include "gleaner.securityContext" (dict "root" $root "context" $root.Values.containerSecurityContext) | nindent 4 }}
  volumeMounts:
    {{- include "gleaner.tmpVolumeMount" $root | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Egress every Gleaner pod needs: DNS, then Redis and PostgreSQL */}}
{{- define "gleaner.networkPolicy.storeEgress" -}}
- ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
{{- if .Values.redis.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "gleaner.selectorLabels" (dict "root" . "component" "redis") | nindent 10 }}
  ports: [{protocol: TCP, port: 6379}]
{{- end -}}
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "gleaner.selectorLabels" (dict "root" . "component" "postgresql") | nindent 10 }}
  ports: [{protocol: TCP, port: 5432}]
{{- end -}}
{{- if or (not .Values.redis.enabled) (not .Values.postgresql.enabled) }}
# An external Redis or database: any address on their usual ports.
- ports: [{protocol: TCP, port: 6379}, {protocol: TCP, port: 6380}, {protocol: TCP, port: 5432}]
{{- end -}}
{{- if .Values.tracing.enabled }}
{{- with .Values.tracing.egress }}
# Spans to the tracing collector.
{{ toYaml . }}
{{- end }}
{{- end -}}
{{- end -}}
