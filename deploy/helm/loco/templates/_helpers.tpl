{{/* Base name of every resource: the release name, with "loco" appended unless it already contains it. */}}
{{- define "loco.fullname" -}}
{{- if contains "loco" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-loco" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every resource; the component is passed as .component. */}}
{{- define "loco.labels" -}}
app.kubernetes.io/name: loco
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: loco
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Selector labels (stable across upgrades). */}}
{{- define "loco.selector" -}}
app.kubernetes.io/name: loco
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "loco.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Pod and container security contexts shared by every Loco container. */}}
{{- define "loco.containerSecurity" -}}
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The TURN Secret's name. */}}
{{- define "loco.turnSecret" -}}
{{- default (printf "%s-turn" (include "loco.fullname" .)) .Values.turn.existingSecret -}}
{{- end -}}
