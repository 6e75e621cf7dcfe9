"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as typed
client-go clients such as `kubectl create deployment|secret|job` send them.

The body is the Kubernetes envelope: the magic bytes `k8s\\x00` and a
runtime.Unknown {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType}
whose `raw` is the object's own message. Objects are turned into the JSON
dict the Go server would produce from the same struct, so the normal strict
decoding and validation apply afterwards.

Field numbers come from k8s.io/api's and k8s.io/apimachinery's generated.proto.
Go's generated marshallers always write non-pointer scalar fields, zero or not,
so zero values are dropped (as `omitempty` drops them in JSON) unless the
field is a pointer or has no `omitempty` (flag `k`: keep zero). Empty
non-pointer structs are dropped too; a present pointer struct stays (`{}`
means something for e.g. `emptyDir`, flag `k` on message fields).
Unlike the real server, which skips unknown field numbers, an unknown field
number is an error naming the message and the number: the test cluster is
strict so that a wrong table shows up instead of silently losing data."""

import base64
import datetime
import json

MAGIC = b"k8s\x00"
MAX_DEPTH = 64


class ProtoError(ValueError):
    """A body that is not valid protobuf for the expected message."""


class Unsupported(ValueError):
    """Valid protobuf that names a kind or message the test cluster does not decode."""


# -- wire format ---------------------------------------------------------------

def read_varint(buf, pos):
    result = shift = 0
    start = pos
    while True:
        if pos >= len(buf):
            raise ProtoError(f"truncated varint at byte {start}")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise ProtoError(f"varint at byte {start} overflows 64 bits")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError(f"varint at byte {start} is longer than 10 bytes")


def fields(buf, where):
    """Yields (field number, wire type, value, offset); value is an int for
    varint/fixed fields and a bytes slice for length-delimited ones."""
    pos = 0
    n = len(buf)
    while pos < n:
        at = pos
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ProtoError(f"{where}: field number 0 at byte {at}")
        if wt == 0:
            val, pos = read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise ProtoError(f"{where}: truncated 64-bit field {num} at byte {at}")
            val, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wt == 5:
            if pos + 4 > n:
                raise ProtoError(f"{where}: truncated 32-bit field {num} at byte {at}")
            val, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        elif wt == 2:
            ln, pos = read_varint(buf, pos)
            if ln > n - pos:
                raise ProtoError(f"{where}: field {num} at byte {at} declares length {ln} but only {n - pos} bytes remain")
            val, pos = buf[pos:pos + ln], pos + ln
        else:
            raise ProtoError(f"{where}: field {num} at byte {at} has unsupported wire type {wt}")
        yield num, wt, val, at


def _signed(v, bits):
    v &= (1 << 64) - 1
    if v >= 1 << 63:
        v -= 1 << 64
    if bits == 32 and not -(1 << 31) <= v < (1 << 31):
        raise ProtoError(f"value {v} does not fit int32")
    return v


# -- message tables ---------------------------------------------------------------
# name -> {field number: (json name, type, flags)}; types: str, bytes, i32, i64, bool,
# map:str, map:bytes, map:Quantity, or a message name. Flags: r repeated, k keep
# zero/empty (pointer or no omitempty), i inline (the sub-message's keys merge
# into the parent, as Go's embedded structs do in JSON).

def _t(spec):
    out = {}
    for line in spec.split(";"):
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        num, name, typ = int(parts[0]), parts[1], parts[2]
        out[num] = (name, typ, parts[3] if len(parts) > 3 else "")
    return out


MESSAGES = {
    # runtime / meta.v1
    "Unknown": _t("1 typeMeta TypeMeta; 2 raw bytes; 3 contentEncoding str; 4 contentType str"),
    "TypeMeta": _t("1 apiVersion str; 2 kind str"),
    "ObjectMeta": _t("1 name str; 2 generateName str; 3 namespace str; 4 selfLink str; 5 uid str; "
                     "6 resourceVersion str; 7 generation i64; 8 creationTimestamp Time; 9 deletionTimestamp Time; "
                     "10 deletionGracePeriodSeconds i64 k; 11 labels map:str; 12 annotations map:str; "
                     "13 ownerReferences OwnerReference r; 14 finalizers str r; 15 clusterName str; "
                     "17 managedFields ManagedFieldsEntry r"),
    "OwnerReference": _t("1 kind str k; 3 name str k; 4 uid str k; 5 apiVersion str k; 6 controller bool k; "
                         "7 blockOwnerDeletion bool k"),
    "ManagedFieldsEntry": _t("1 manager str; 2 operation str; 3 apiVersion str; 4 time Time; 6 fieldsType str; "
                             "7 fieldsV1 FieldsV1; 8 subresource str"),
    "FieldsV1": _t("1 Raw bytes"),
    "LabelSelector": _t("1 matchLabels map:str; 2 matchExpressions LabelSelectorRequirement r"),
    "LabelSelectorRequirement": _t("1 key str k; 2 operator str k; 3 values str r"),
    "Condition": _t("1 type str k; 2 status str k; 3 observedGeneration i64; 4 lastTransitionTime Time k; "
                    "5 reason str k; 6 message str k"),
    "IntOrString": _t("1 type i64; 2 intVal i32; 3 strVal str"),
    "Quantity": _t("1 string str"),
    # core.v1
    "Namespace": _t("1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus"),
    "NamespaceSpec": _t("1 finalizers str r"),
    "NamespaceStatus": _t("1 phase str; 2 conditions NamespaceCondition r"),
    "NamespaceCondition": _t("1 type str k; 2 status str k; 4 lastTransitionTime Time; 5 reason str; 6 message str"),
    "Secret": _t("1 metadata ObjectMeta; 2 data map:bytes; 3 type str; 4 stringData map:str; 5 immutable bool k"),
    "ConfigMap": _t("1 metadata ObjectMeta; 2 data map:str; 3 binaryData map:bytes; 4 immutable bool k"),
    "ServiceAccount": _t("1 metadata ObjectMeta; 2 secrets ObjectReference r; 3 imagePullSecrets LocalObjectReference r; "
                         "4 automountServiceAccountToken bool k"),
    "ObjectReference": _t("1 kind str; 2 namespace str; 3 name str; 4 uid str; 5 apiVersion str; "
                          "6 resourceVersion str; 7 fieldPath str"),
    "LocalObjectReference": _t("1 name str"),
    "Service": _t("1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status ServiceStatus"),
    "ServiceSpec": _t("1 ports ServicePort r; 2 selector map:str; 3 clusterIP str; 4 type str; 5 externalIPs str r; "
                      "7 sessionAffinity str; 8 loadBalancerIP str; 9 loadBalancerSourceRanges str r; "
                      "10 externalName str; 11 externalTrafficPolicy str; 12 healthCheckNodePort i32; "
                      "13 publishNotReadyAddresses bool; 14 sessionAffinityConfig SessionAffinityConfig k; "
                      "17 ipFamilyPolicy str k; 18 clusterIPs str r; 19 ipFamilies str r; "
                      "20 allocateLoadBalancerNodePorts bool k; 21 loadBalancerClass str k; "
                      "22 internalTrafficPolicy str k; 23 trafficDistribution str k"),
    "ServicePort": _t("1 name str; 2 protocol str; 3 port i32 k; 4 targetPort IntOrString; 5 nodePort i32; "
                      "6 appProtocol str k"),
    "SessionAffinityConfig": _t("1 clientIP ClientIPConfig k"),
    "ClientIPConfig": _t("1 timeoutSeconds i32 k"),
    "ServiceStatus": _t("1 loadBalancer LoadBalancerStatus; 2 conditions Condition r"),
    "LoadBalancerStatus": _t("1 ingress LoadBalancerIngress r"),
    "LoadBalancerIngress": _t("1 ip str; 2 hostname str; 3 ipMode str k; 4 ports PortStatus r"),
    "PodTemplateSpec": _t("1 metadata ObjectMeta; 2 spec PodSpec"),
    "PodSpec": _t("1 volumes Volume r; 2 containers Container r; 3 restartPolicy str; "
                  "4 terminationGracePeriodSeconds i64 k; 5 activeDeadlineSeconds i64 k; 6 dnsPolicy str; "
                  "7 nodeSelector map:str; 8 serviceAccountName str; 9 serviceAccount str; 10 nodeName str; "
                  "11 hostNetwork bool; 12 hostPID bool; 13 hostIPC bool; 14 securityContext PodSecurityContext k; "
                  "15 imagePullSecrets LocalObjectReference r; 16 hostname str; 17 subdomain str; "
                  "19 schedulerName str; 20 initContainers Container r; 21 automountServiceAccountToken bool k; "
                  "22 tolerations Toleration r; 23 hostAliases HostAlias r; 24 priorityClassName str; "
                  "25 priority i32 k; 27 shareProcessNamespace bool k; 29 runtimeClassName str k; "
                  "30 enableServiceLinks bool k; 31 preemptionPolicy str k; 32 overhead map:Quantity; "
                  "35 setHostnameAsFQDN bool k; 37 hostUsers bool k; 41 hostnameOverride str k; "
                  "18 affinity Affinity k; 26 dnsConfig PodDNSConfig k; 28 readinessGates PodReadinessGate r; "
                  "33 topologySpreadConstraints TopologySpreadConstraint r; 34 ephemeralContainers EphemeralContainer r; "
                  "36 os PodOS k; 38 schedulingGates PodSchedulingGate r; 39 resourceClaims PodResourceClaim r; "
                  "40 resources ResourceRequirements k; 42 workloadRef WorkloadReference k"),
    "Container": _t("1 name str; 2 image str; 3 command str r; 4 args str r; 5 workingDir str; "
                    "6 ports ContainerPort r; 7 env EnvVar r; 8 resources ResourceRequirements; "
                    "9 volumeMounts VolumeMount r; 10 livenessProbe Probe k; 11 readinessProbe Probe k; "
                    "13 terminationMessagePath str; 14 imagePullPolicy str; 15 securityContext SecurityContext k; "
                    "16 stdin bool; 17 stdinOnce bool; 18 tty bool; 19 envFrom EnvFromSource r; "
                    "20 terminationMessagePolicy str; 22 startupProbe Probe k; 24 restartPolicy str k; "
                    "12 lifecycle Lifecycle k; 21 volumeDevices VolumeDevice r; 23 resizePolicy ContainerResizePolicy r; "
                    "25 restartPolicyRules ContainerRestartRule r"),
    "ContainerPort": _t("1 name str; 2 hostPort i32; 3 containerPort i32 k; 4 protocol str; 5 hostIP str"),
    "EnvVar": _t("1 name str k; 2 value str; 3 valueFrom EnvVarSource k"),
    "EnvVarSource": _t("1 fieldRef ObjectFieldSelector k; 2 resourceFieldRef ResourceFieldSelector k; "
                       "3 configMapKeyRef ConfigMapKeySelector k; 4 secretKeyRef SecretKeySelector k; "
                       "5 fileKeyRef FileKeySelector k"),
    "ObjectFieldSelector": _t("1 apiVersion str; 2 fieldPath str k"),
    "ResourceFieldSelector": _t("1 containerName str; 2 resource str k; 3 divisor Quantity"),
    "ConfigMapKeySelector": _t("1 localObjectReference LocalObjectReference i; 2 key str k; 3 optional bool k"),
    "SecretKeySelector": _t("1 localObjectReference LocalObjectReference i; 2 key str k; 3 optional bool k"),
    "EnvFromSource": _t("1 prefix str; 2 configMapRef ConfigMapEnvSource k; 3 secretRef SecretEnvSource k"),
    "ConfigMapEnvSource": _t("1 localObjectReference LocalObjectReference i; 2 optional bool k"),
    "SecretEnvSource": _t("1 localObjectReference LocalObjectReference i; 2 optional bool k"),
    "ResourceRequirements": _t("1 limits map:Quantity; 2 requests map:Quantity; 3 claims ResourceClaim r"),
    "ResourceClaim": _t("1 name str k; 2 request str"),
    "VolumeMount": _t("1 name str k; 2 readOnly bool; 3 mountPath str k; 4 subPath str; 5 mountPropagation str k; "
                      "6 subPathExpr str; 7 recursiveReadOnly str k"),
    "Volume": _t("1 name str k; 2 volumeSource VolumeSource i"),
    "VolumeSource": _t("1 hostPath HostPathVolumeSource k; 2 emptyDir EmptyDirVolumeSource k; "
                       "6 secret SecretVolumeSource k; 10 persistentVolumeClaim PersistentVolumeClaimVolumeSource k; "
                       "19 configMap ConfigMapVolumeSource k; 3 gcePersistentDisk GCEPersistentDiskVolumeSource k; "
                       "4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource k; 5 gitRepo GitRepoVolumeSource k; "
                       "7 nfs NFSVolumeSource k; 8 iscsi ISCSIVolumeSource k; 9 glusterfs GlusterfsVolumeSource k; "
                       "11 rbd RBDVolumeSource k; 12 flexVolume FlexVolumeSource k; 13 cinder CinderVolumeSource k; "
                       "14 cephfs CephFSVolumeSource k; 15 flocker FlockerVolumeSource k; "
                       "16 downwardAPI DownwardAPIVolumeSource k; 17 fc FCVolumeSource k; "
                       "18 azureFile AzureFileVolumeSource k; 20 vsphereVolume VsphereVirtualDiskVolumeSource k; "
                       "21 quobyte QuobyteVolumeSource k; 22 azureDisk AzureDiskVolumeSource k; "
                       "23 photonPersistentDisk PhotonPersistentDiskVolumeSource k; "
                       "24 portworxVolume PortworxVolumeSource k; 25 scaleIO ScaleIOVolumeSource k; "
                       "26 projected ProjectedVolumeSource k; 27 storageos StorageOSVolumeSource k; "
                       "28 csi CSIVolumeSource k; 29 ephemeral EphemeralVolumeSource k; 30 image ImageVolumeSource k"),
    "HostPathVolumeSource": _t("1 path str k; 2 type str k"),
    "EmptyDirVolumeSource": _t("1 medium str; 2 sizeLimit Quantity k"),
    "SecretVolumeSource": _t("1 secretName str; 2 items KeyToPath r; 3 defaultMode i32 k; 4 optional bool k"),
    "ConfigMapVolumeSource": _t("1 localObjectReference LocalObjectReference i; 2 items KeyToPath r; "
                                "3 defaultMode i32 k; 4 optional bool k"),
    "PersistentVolumeClaimVolumeSource": _t("1 claimName str k; 2 readOnly bool"),
    "KeyToPath": _t("1 key str k; 2 path str k; 3 mode i32 k"),
    "Probe": _t("1 handler ProbeHandler i; 2 initialDelaySeconds i32; 3 timeoutSeconds i32; 4 periodSeconds i32; "
                "5 successThreshold i32; 6 failureThreshold i32; 7 terminationGracePeriodSeconds i64 k"),
    "ProbeHandler": _t("1 exec ExecAction k; 2 httpGet HTTPGetAction k; 3 tcpSocket TCPSocketAction k; "
                       "4 grpc GRPCAction k"),
    "GRPCAction": _t("1 port i32 k; 2 service str k"),
    "ExecAction": _t("1 command str r"),
    "HTTPGetAction": _t("1 path str; 2 port IntOrString k; 3 host str; 4 scheme str; 5 httpHeaders HTTPHeader r"),
    "HTTPHeader": _t("1 name str k; 2 value str k"),
    "TCPSocketAction": _t("1 port IntOrString k; 2 host str"),
    "SecurityContext": _t("1 capabilities Capabilities k; 2 privileged bool k; 4 runAsUser i64 k; "
                          "5 runAsNonRoot bool k; 6 readOnlyRootFilesystem bool k; 7 allowPrivilegeEscalation bool k; "
                          "8 runAsGroup i64 k; 9 procMount str k; 3 seLinuxOptions SELinuxOptions k; "
                          "10 windowsOptions WindowsSecurityContextOptions k; 11 seccompProfile SeccompProfile k; "
                          "12 appArmorProfile AppArmorProfile k"),
    "SELinuxOptions": _t("1 user str; 2 role str; 3 type str; 4 level str"),
    "SeccompProfile": _t("1 type str k; 2 localhostProfile str k"),
    "AppArmorProfile": _t("1 type str k; 2 localhostProfile str k"),
    "Sysctl": _t("1 name str k; 2 value str k"),
    "PodOS": _t("1 name str k"),
    "Capabilities": _t("1 add str r; 2 drop str r"),
    "PodSecurityContext": _t("2 runAsUser i64 k; 3 runAsNonRoot bool k; 4 supplementalGroups i64 r; 5 fsGroup i64 k; "
                             "6 runAsGroup i64 k; 9 fsGroupChangePolicy str k; 12 supplementalGroupsPolicy str k; "
                             "13 seLinuxChangePolicy str k; 1 seLinuxOptions SELinuxOptions k; 7 sysctls Sysctl r; "
                             "8 windowsOptions WindowsSecurityContextOptions k; 10 seccompProfile SeccompProfile k; "
                             "11 appArmorProfile AppArmorProfile k"),
    "Toleration": _t("1 key str; 2 operator str; 3 value str; 4 effect str; 5 tolerationSeconds i64 k"),
    "HostAlias": _t("1 ip str k; 2 hostnames str r"),
    # apps.v1
    "Deployment": _t("1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus"),
    "DeploymentSpec": _t("1 replicas i32 k; 2 selector LabelSelector k; 3 template PodTemplateSpec; "
                         "4 strategy DeploymentStrategy; 5 minReadySeconds i32; 6 revisionHistoryLimit i32 k; "
                         "7 paused bool; 9 progressDeadlineSeconds i32 k; 10 podReplacementPolicy str k"),
    "DeploymentStrategy": _t("1 type str; 2 rollingUpdate RollingUpdateDeployment k"),
    "RollingUpdateDeployment": _t("1 maxUnavailable IntOrString k; 2 maxSurge IntOrString k"),
    "DeploymentStatus": _t("1 observedGeneration i64; 2 replicas i32; 3 updatedReplicas i32; 4 availableReplicas i32; "
                           "5 unavailableReplicas i32; 6 conditions DeploymentCondition r; 7 readyReplicas i32; "
                           "8 collisionCount i32 k; 9 terminatingReplicas i32 k"),
    "DeploymentCondition": _t("1 type str k; 2 status str k; 4 reason str; 5 message str; 6 lastUpdateTime Time; "
                              "7 lastTransitionTime Time"),
    # batch.v1
    "Job": _t("1 metadata ObjectMeta; 2 spec JobSpec; 3 status JobStatus"),
    "JobSpec": _t("1 parallelism i32 k; 2 completions i32 k; 3 activeDeadlineSeconds i64 k; 4 selector LabelSelector k; "
                  "5 manualSelector bool k; 6 template PodTemplateSpec; 7 backoffLimit i32 k; "
                  "8 ttlSecondsAfterFinished i32 k; 9 completionMode str k; 10 suspend bool k; "
                  "12 backoffLimitPerIndex i32 k; 13 maxFailedIndexes i32 k; 14 podReplacementPolicy str k; "
                  "15 managedBy str k; 11 podFailurePolicy PodFailurePolicy k; 16 successPolicy SuccessPolicy k"),
    "JobStatus": _t("1 conditions JobCondition r; 2 startTime Time; 3 completionTime Time; 4 active i32; "
                    "5 succeeded i32; 6 failed i32; 7 completedIndexes str; 9 ready i32 k; 10 failedIndexes str k; "
                    "11 terminating i32 k; 8 uncountedTerminatedPods UncountedTerminatedPods k"),
    "JobCondition": _t("1 type str k; 2 status str k; 3 lastProbeTime Time; 4 lastTransitionTime Time; "
                       "5 reason str; 6 message str"),
    "CronJob": _t("1 metadata ObjectMeta; 2 spec CronJobSpec; 3 status CronJobStatus"),
    "CronJobSpec": _t("1 schedule str k; 2 startingDeadlineSeconds i64 k; 3 concurrencyPolicy str; 4 suspend bool k; "
                      "5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit i32 k; "
                      "7 failedJobsHistoryLimit i32 k; 8 timeZone str k"),
    "JobTemplateSpec": _t("1 metadata ObjectMeta; 2 spec JobSpec"),
    "CronJobStatus": _t("1 active ObjectReference r; 4 lastScheduleTime Time; 5 lastSuccessfulTime Time"),
    # authentication.v1
    "TokenRequest": _t("1 metadata ObjectMeta; 2 spec TokenRequestSpec; 3 status TokenRequestStatus"),
    "TokenRequestSpec": _t("1 audiences str r; 3 boundObjectRef BoundObjectReference k; 4 expirationSeconds i64 k"),
    "BoundObjectReference": _t("1 kind str; 2 apiVersion str; 3 name str; 4 uid str"),
    "TokenRequestStatus": _t("1 token str; 2 expirationTimestamp Time"),
    "SelfSubjectReview": _t("1 metadata ObjectMeta; 2 status SelfSubjectReviewStatus"),
    "SelfSubjectReviewStatus": _t("1 userInfo UserInfo"),
    "UserInfo": _t("1 username str; 2 uid str; 3 groups str r"),
    # authorization.v1
    "SelfSubjectAccessReview": _t("1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec; "
                                  "3 status SubjectAccessReviewStatus"),
    "SelfSubjectAccessReviewSpec": _t("1 resourceAttributes ResourceAttributes k; "
                                      "2 nonResourceAttributes NonResourceAttributes k"),
    "ResourceAttributes": _t("1 namespace str; 2 verb str; 3 group str; 4 version str; 5 resource str; "
                             "6 subresource str; 7 name str"),
    "NonResourceAttributes": _t("1 path str; 2 verb str"),
    "SubjectAccessReviewStatus": _t("1 allowed bool k; 2 reason str; 3 evaluationError str; 4 denied bool"),
}

# Messages whose wire shape is special: Time (seconds/nanos -> RFC 3339),
# IntOrString, Quantity and FieldsV1 have their own JSON forms.
PACKAGE = {"Deployment": "apps.v1", "DeploymentSpec": "apps.v1", "DeploymentStrategy": "apps.v1",
           "RollingUpdateDeployment": "apps.v1", "DeploymentStatus": "apps.v1", "DeploymentCondition": "apps.v1",
           "Job": "batch.v1", "JobSpec": "batch.v1", "JobStatus": "batch.v1", "JobCondition": "batch.v1",
           "CronJob": "batch.v1", "CronJobSpec": "batch.v1", "JobTemplateSpec": "batch.v1", "CronJobStatus": "batch.v1",
           "Unknown": "runtime", "TypeMeta": "runtime", "IntOrString": "intstr", "Quantity": "resource"}
for _m in ("TokenRequest", "TokenRequestSpec", "BoundObjectReference", "TokenRequestStatus", "SelfSubjectReview",
           "SelfSubjectReviewStatus", "UserInfo"):
    PACKAGE[_m] = "authentication.v1"
for _m in ("SelfSubjectAccessReview", "SelfSubjectAccessReviewSpec", "ResourceAttributes", "NonResourceAttributes",
           "SubjectAccessReviewStatus"):
    PACKAGE[_m] = "authorization.v1"
for _m in ("ObjectMeta", "OwnerReference", "ManagedFieldsEntry", "FieldsV1", "LabelSelector",
           "LabelSelectorRequirement", "Condition", "Time"):
    PACKAGE[_m] = "meta.v1"

# (apiVersion, kind) of the top-level objects decoded here.
KINDS = {("v1", k): k for k in ("Namespace", "Secret", "ConfigMap", "ServiceAccount", "Service")}
KINDS.update({("apps/v1", "Deployment"): "Deployment", ("batch/v1", "Job"): "Job", ("batch/v1", "CronJob"): "CronJob",
              ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
              ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
              ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview"})


def qualified(msg):
    return f"{PACKAGE.get(msg, 'core.v1')}.{msg}"


def _time(buf, where):
    secs = nanos = 0
    for num, wt, val, _ in fields(buf, where):
        if num == 1 and wt == 0:
            secs = _signed(val, 64)
        elif num == 2 and wt == 0:
            nanos = _signed(val, 32)
        else:
            raise ProtoError(f"{where}: unknown field number {num} (wire type {wt}) in protobuf message meta.v1.Time")
    if secs == 0 and nanos == 0:
        return None
    try:
        t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=secs)
    except OverflowError:
        raise ProtoError(f"{where}: time {secs}s is out of range")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(typ, wt, val, where, num, msg):
    want = 2 if typ in ("str", "bytes") else 0
    if wt != want:
        raise ProtoError(f"{where}: field {num} of {qualified(msg)} has wire type {wt}, expected {want} for {typ}")
    if typ == "str":
        try:
            return bytes(val).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtoError(f"{where}: field {num} of {qualified(msg)} is not valid UTF-8")
    if typ == "bytes":
        return base64.b64encode(bytes(val)).decode()
    if typ == "i32":
        return _signed(val, 32)
    if typ == "i64":
        return _signed(val, 64)
    if typ == "bool":
        return val != 0
    raise AssertionError(typ)


def _map_entry(buf, vtype, where, depth):
    key, value = "", None
    for num, wt, val, _ in fields(buf, where):
        if num == 1 and wt == 2:
            key = _scalar("str", wt, val, where, num, "map entry")
        elif num == 2:
            if vtype == "Quantity":
                if wt != 2:
                    raise ProtoError(f"{where}: map value has wire type {wt}, expected 2")
                value = decode_message("Quantity", val, f"{where}[{key}]", depth + 1)
            else:
                value = _scalar(vtype, wt, val, where, num, "map entry")
        else:
            raise ProtoError(f"{where}: unknown field number {num} (wire type {wt}) in a map entry")
    if value is None:
        value = "" if vtype != "Quantity" else "0"
    return key, value


def _empty(v):
    return v is None or v == "" or v is False or (type(v) is int and v == 0) or v == {} or v == []


def decode_message(msg, buf, where="", depth=0):
    """buf -> JSON-shaped value of message msg."""
    if depth > MAX_DEPTH:
        raise ProtoError(f"{where}: messages nested deeper than {MAX_DEPTH}")
    if msg == "Time":
        return _time(buf, where)
    table = MESSAGES.get(msg)
    if table is None:
        raise Unsupported(f"{where}: protobuf message {qualified(msg)} is not decoded by the kiln test cluster (send JSON)")
    out = {}
    for num, wt, val, _ in fields(buf, where or qualified(msg)):
        spec = table.get(num)
        if spec is None:
            raise ProtoError(f"{where or 'object'}: unknown field number {num} (wire type {wt}) "
                             f"in protobuf message {qualified(msg)}")
        name, typ, flags = spec
        sub = f"{where}.{name}" if where else name
        if typ.startswith("map:"):
            if wt != 2:
                raise ProtoError(f"{sub}: map field {num} of {qualified(msg)} has wire type {wt}, expected 2")
            k, v = _map_entry(val, typ[4:], sub, depth)
            out.setdefault(name, {})[k] = v
            continue
        if typ in ("str", "bytes", "i32", "i64", "bool"):
            if "r" in flags and wt == 2 and typ not in ("str", "bytes"):
                pos, vals = 0, []
                while pos < len(val):   # packed repeated scalars
                    x, pos = read_varint(val, pos)
                    vals.append(_scalar(typ, 0, x, sub, num, msg))
                out.setdefault(name, []).extend(vals)
                continue
            v = _scalar(typ, wt, val, sub, num, msg)
        else:
            if wt != 2:
                raise ProtoError(f"{sub}: field {num} of {qualified(msg)} has wire type {wt}, expected 2 for {typ}")
            v = decode_message(typ, val, sub, depth + 1)
        if "r" in flags:
            out.setdefault(name, []).append(v)
        elif "i" in flags:
            out.update(v or {})
        else:
            out[name] = v
    return _finish(msg, table, out)


def _finish(msg, table, out):
    if msg == "IntOrString":
        return out.get("strVal", "") if out.get("type", 0) == 1 else out.get("intVal", 0)
    if msg == "Quantity":
        return out.get("string", "0") or "0"
    if msg == "FieldsV1":
        try:
            return json.loads(base64.b64decode(out.get("Raw", "")) or b"{}")
        except ValueError:
            raise ProtoError("managedFields.fieldsV1 is not JSON")
    keep = {name for name, _, flags in table.values() if "k" in flags}
    res = {}
    for k, v in out.items():
        if v is not None and (k in keep or not _empty(v)):
            res[k] = v
    return res


def decode_object(body, group_version, kind):
    """The envelope -> (apiVersion, kind, JSON dict). group_version/kind name
    the resource the request is for (used in error messages)."""
    if not body.startswith(MAGIC):
        raise ProtoError(f"provided data does not appear to be a protobuf message, expected prefix {list(MAGIC)}")
    env = decode_unknown(body[len(MAGIC):])
    av, k = env.get("apiVersion", ""), env.get("kind", "")
    if env.get("contentEncoding"):
        raise Unsupported(f"protobuf envelope with contentEncoding {env['contentEncoding']!r} is not supported")
    if env.get("contentType") not in ("", None, "application/vnd.kubernetes.protobuf"):
        raise Unsupported(f"protobuf envelope with contentType {env['contentType']!r} is not supported")
    top = KINDS.get((av, k))
    if top is None:
        raise Unsupported(f"protobuf bodies of {av or '?'}/{k or '?'} are not decoded by the kiln test cluster "
                          f"(decoded: {', '.join(sorted(f'{a}/{b}' for a, b in KINDS))}); send JSON")
    obj = decode_message(top, env.get("raw", b""))
    res = {"apiVersion": av, "kind": k}
    res.update(obj)
    return res


def decode_unknown(buf):
    out = {"raw": b""}
    for num, wt, val, _ in fields(buf, "runtime.Unknown"):
        if num == 1 and wt == 2:
            for n2, w2, v2, _ in fields(val, "runtime.Unknown.typeMeta"):
                if n2 in (1, 2) and w2 == 2:
                    out["apiVersion" if n2 == 1 else "kind"] = _scalar("str", w2, v2, "typeMeta", n2, "TypeMeta")
                else:
                    raise ProtoError(f"unknown field number {n2} (wire type {w2}) in protobuf message runtime.TypeMeta")
        elif num == 2 and wt == 2:
            out["raw"] = bytes(val)
        elif num in (3, 4) and wt == 2:
            out["contentEncoding" if num == 3 else "contentType"] = _scalar("str", wt, val, "envelope", num, "Unknown")
        else:
            raise ProtoError(f"unknown field number {num} (wire type {wt}) in protobuf message runtime.Unknown")
    return out
