"""Check that the manifests of deploy/kubernetes agree with each other and with textgen-server."""

import os
import re

from deploy_files import DeployFileError, files_under, load_yaml_documents
from server_flags import SHUTDOWN_MARGIN_SECONDS, FlagError, server_settings

# Kubernetes defaults of fields that the manifests may leave out.
DEFAULT_GRACE_PERIOD_SECONDS = 30
DEFAULT_PROBE_PERIOD_SECONDS = 10
DEFAULT_PROBE_FAILURE_THRESHOLD = 3


class Manifests:
    """The Kubernetes objects of one folder, with the files they came from."""

    def __init__(self, kubernetes_dir):
        self.directory = kubernetes_dir
        self.objects = []  # (file name, object)
        self.kustomization = None
        for path in files_under(kubernetes_dir, (".yaml", ".yml")):
            name = os.path.relpath(path, kubernetes_dir)
            for document in load_yaml_documents(path):
                if document.get("kind") == "Kustomization":
                    self.kustomization = (name, document)
                elif "apiVersion" in document and "kind" in document:
                    self.objects.append((name, document))

    def of_kind(self, kind):
        return [(name, item) for name, item in self.objects if item["kind"] == kind]


def _selects(selector_labels, pod_labels):
    """Return whether a non-empty label selector matches the labels of a pod."""
    return bool(selector_labels) and all(pod_labels.get(key) == value for key, value in selector_labels.items())


def _resolve_port(port, container_ports):
    """Return the number of a containerPort given by name or number, or None if undeclared."""
    if isinstance(port, int):
        return port if port in container_ports.values() else None
    return container_ports.get(port)


def _pre_stop_seconds(container):
    """Return the seconds that the preStop hook sleeps: `sleep N` or the sleep action."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"].get("seconds", 0))
    command = (pre_stop.get("exec") or {}).get("command") or []
    if len(command) == 2 and os.path.basename(command[0]) == "sleep":
        return float(command[1])
    return 0.0


class DeploymentCheck:
    """Checks of the textgen Deployment, its container and the objects that refer to it."""

    def __init__(self, manifests, server_defaults, served_metric_names):
        self.manifests = manifests
        self.server_defaults = server_defaults
        self.served_metric_names = served_metric_names
        self.errors = []

    def run(self):
        deployments = self.manifests.of_kind("Deployment")
        if len(deployments) != 1:
            return [f"expected one Deployment, found {len(deployments)}"]
        self.file, self.deployment = deployments[0]
        self.pod_spec = self.deployment["spec"]["template"]["spec"]
        self.pod_labels = self.deployment["spec"]["template"]["metadata"].get("labels") or {}
        containers = self.pod_spec.get("containers") or []
        if len(containers) != 1:
            return [f"{self.file}: expected one container, found {len(containers)}"]
        self.container = containers[0]
        self.container_ports = {port.get("name"): port["containerPort"]
                                for port in self.container.get("ports") or []}
        try:
            arguments = list(self.container.get("command") or [])[1:] + list(self.container.get("args") or [])
            self.settings = server_settings(arguments, self.server_defaults)
        except FlagError as error:
            return [f"{self.file}: container arguments: {error}"]

        self.check_container_ports()
        self.check_probes()
        self.check_shutdown_timing()
        self.check_resources()
        self.check_environment_references()
        self.check_security()
        self.check_selectors()
        self.check_services()
        self.check_service_monitor()
        self.check_autoscaler()
        self.check_kustomization()
        return self.errors

    def error(self, message):
        self.errors.append(message)

    def check_container_ports(self):
        for name, number, flag in (("grpc", self.settings.grpc_port, "--listen"),
                                   ("metrics", self.settings.metrics_port, "--metrics-listen")):
            if self.container_ports.get(name) != number:
                self.error(f"{self.file}: containerPort `{name}` is {self.container_ports.get(name)}, "
                           f"but the server's {flag} port is {number}")

    def check_probes(self):
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = self.container.get(kind)
            if probe is None:
                if kind != "startupProbe":
                    self.error(f"{self.file}: the container has no {kind}")
                continue
            if "grpc" not in probe:
                self.error(f"{self.file}: {kind} is not a gRPC probe; the server serves grpc.health.v1")
                continue
            port = probe["grpc"].get("port")
            if _resolve_port(port, self.container_ports) is None:
                self.error(f"{self.file}: {kind} port {port} is no containerPort of the container")
            if port != self.settings.grpc_port:
                self.error(f"{self.file}: {kind} probes port {port}, but the server's gRPC port "
                           f"(--listen) is {self.settings.grpc_port}")

    def check_shutdown_timing(self):
        grace = self.pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD_SECONDS)
        pre_stop = _pre_stop_seconds(self.container)
        needed = pre_stop + self.settings.drain_timeout_seconds + SHUTDOWN_MARGIN_SECONDS
        if grace < needed:
            self.error(f"{self.file}: terminationGracePeriodSeconds is {grace}, less than the preStop "
                       f"sleep ({pre_stop:g} s) + --drain-timeout ({self.settings.drain_timeout_seconds:g} s) "
                       f"+ the server's {SHUTDOWN_MARGIN_SECONDS} s shutdown margin = {needed:g} s")
        liveness = self.container.get("livenessProbe") or {}
        tolerated = (liveness.get("periodSeconds", DEFAULT_PROBE_PERIOD_SECONDS)
                     * liveness.get("failureThreshold", DEFAULT_PROBE_FAILURE_THRESHOLD))
        if tolerated <= grace:
            self.error(f"{self.file}: the livenessProbe restarts the container after {tolerated} s of "
                       f"NOT_SERVING, within the {grace} s grace period in which the server drains")

    def check_resources(self):
        resources = self.container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for resource in ("cpu", "memory"):
            if resource not in requests or str(requests.get(resource)) != str(limits.get(resource)):
                self.error(f"{self.file}: resources.requests.{resource} ({requests.get(resource)}) must "
                           f"equal resources.limits.{resource} ({limits.get(resource)}) for the "
                           "Guaranteed QoS class")

    def check_environment_references(self):
        defined = {variable["name"] for variable in self.container.get("env") or []}
        for argument in list(self.container.get("command") or []) + list(self.container.get("args") or []):
            for name in re.findall(r"\$\((\w+)\)", str(argument)):
                if name not in defined:
                    self.error(f"{self.file}: argument {argument!r} refers to $({name}), which env does not define")

    def check_security(self):
        pod_context = self.pod_spec.get("securityContext") or {}
        context = self.container.get("securityContext") or {}
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            self.error(f"{self.file}: runAsNonRoot is not set")
        for where in (pod_context, context):
            if where.get("runAsUser") == 0:
                self.error(f"{self.file}: runAsUser is 0 (root)")
        if context.get("readOnlyRootFilesystem") is not True:
            self.error(f"{self.file}: readOnlyRootFilesystem is not true")
        if context.get("allowPrivilegeEscalation") is not False:
            self.error(f"{self.file}: allowPrivilegeEscalation is not false")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            self.error(f"{self.file}: capabilities.drop does not contain ALL")

    def check_selectors(self):
        if not _selects(self.deployment["spec"]["selector"].get("matchLabels"), self.pod_labels):
            self.error(f"{self.file}: spec.selector does not match the pod template's labels")
        for name, budget in self.manifests.of_kind("PodDisruptionBudget"):
            if not _selects(budget["spec"]["selector"].get("matchLabels"), self.pod_labels):
                self.error(f"{name}: the PodDisruptionBudget's selector does not match the textgen pods")

    def check_services(self):
        services = self.manifests.of_kind("Service")
        if not services:
            self.error("no Service")
        exposed_grpc = {"ClusterIP": False, "headless": False}
        for name, service in services:
            spec = service["spec"]
            if not _selects(spec.get("selector"), self.pod_labels):
                self.error(f"{name}: the Service's selector does not match the textgen pods")
            headless = spec.get("clusterIP") == "None"
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                number = _resolve_port(target, self.container_ports)
                if number is None:
                    self.error(f"{name}: port {port.get('name')} has targetPort {target}, which is no "
                               "containerPort of the Deployment")
                if number == self.settings.grpc_port:
                    exposed_grpc["headless" if headless else "ClusterIP"] = True
        for kind, found in exposed_grpc.items():
            if not found:
                self.error(f"no {kind} Service exposes the gRPC port {self.settings.grpc_port}")

    def check_service_monitor(self):
        monitors = self.manifests.of_kind("ServiceMonitor")
        if len(monitors) != 1:
            self.error(f"expected one ServiceMonitor, found {len(monitors)}")
            return
        name, monitor = monitors[0]
        selector = (monitor["spec"].get("selector") or {}).get("matchLabels")
        selected = [service for _, service in self.manifests.of_kind("Service")
                    if _selects(selector, service["metadata"].get("labels") or {})]
        if len(selected) != 1:
            self.error(f"{name}: the selector matches {len(selected)} Services; with more than one, "
                       "Prometheus scrapes each pod once per Service")
            return
        service_ports = {port.get("name"): port for port in selected[0]["spec"].get("ports") or []}
        for endpoint in monitor["spec"].get("endpoints") or []:
            port = service_ports.get(endpoint.get("port"))
            if port is None:
                self.error(f"{name}: endpoint port {endpoint.get('port')!r} is no port of Service "
                           f"{selected[0]['metadata']['name']}")
                continue
            number = _resolve_port(port.get("targetPort", port.get("port")), self.container_ports)
            if number != self.settings.metrics_port:
                self.error(f"{name}: endpoint port {endpoint.get('port')!r} leads to container port "
                           f"{number}, but the server's --metrics-listen port is {self.settings.metrics_port}")
            if endpoint.get("path", "/metrics") != "/metrics":
                self.error(f"{name}: endpoint path is {endpoint.get('path')}, the server serves /metrics")

    def check_autoscaler(self):
        autoscalers = self.manifests.of_kind("HorizontalPodAutoscaler")
        if len(autoscalers) != 1:
            self.error(f"expected one HorizontalPodAutoscaler, found {len(autoscalers)}")
            return
        name, autoscaler = autoscalers[0]
        if autoscaler["apiVersion"] != "autoscaling/v2":
            self.error(f"{name}: apiVersion is {autoscaler['apiVersion']}, expected autoscaling/v2")
        target = autoscaler["spec"].get("scaleTargetRef") or {}
        if (target.get("kind"), target.get("name")) != ("Deployment", self.deployment["metadata"]["name"]):
            self.error(f"{name}: scaleTargetRef is {target.get('kind')}/{target.get('name')}, not the "
                       f"Deployment {self.deployment['metadata']['name']}")
        if "replicas" in self.deployment["spec"]:
            self.error(f"{self.file}: spec.replicas is set, so every apply resets the autoscaler's count")
        metrics = autoscaler["spec"].get("metrics") or []
        pod_metrics = [metric["pods"]["metric"]["name"] for metric in metrics if metric.get("type") == "Pods"]
        if not pod_metrics:
            self.error(f"{name}: no metric of type Pods")
        for metric_name in pod_metrics:
            if metric_name not in self.served_metric_names:
                self.error(f"{name}: Pods metric {metric_name} is not one the prometheus-adapter rules "
                           f"serve ({', '.join(sorted(self.served_metric_names)) or 'none'})")

    def check_kustomization(self):
        if self.manifests.kustomization is None:
            self.error("no kustomization.yaml")
            return
        name, kustomization = self.manifests.kustomization
        listed = set(kustomization.get("resources") or [])
        for resource in sorted(listed):
            if not os.path.isfile(os.path.join(self.manifests.directory, resource)):
                self.error(f"{name}: resource {resource} does not exist")
        for file_name in sorted({file_name for file_name, _ in self.manifests.objects} - listed):
            self.error(f"{name}: {file_name} holds Kubernetes objects but is not listed in resources")
        image_name = re.split(r"[:@]", self.container.get("image", ""))[0]
        image_entries = [entry.get("name") for entry in kustomization.get("images") or []]
        if image_entries and image_name not in image_entries:
            self.error(f"{name}: images names {image_entries}, but the container's image is {image_name}")


def check_kubernetes(kubernetes_dir, server_defaults, served_metric_names):
    """Return the errors of the manifests in `kubernetes_dir`."""
    try:
        manifests = Manifests(kubernetes_dir)
    except DeployFileError as error:
        return [str(error)]
    try:
        return DeploymentCheck(manifests, server_defaults, served_metric_names).run()
    except (KeyError, TypeError, AttributeError) as error:
        return [f"a manifest lacks a required field or has a wrong type: {error!r}"]
