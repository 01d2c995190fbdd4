"""Check deploy/docker-compose.yml against the Dockerfile, the server and the files it mounts."""

import json
import os
import re

from deploy_files import DeployFileError, load_yaml
from server_flags import SHUTDOWN_MARGIN_SECONDS, FlagError, server_settings

# Where the prom/prometheus image reads its configuration, and the port it
# serves on, unless the compose file passes --config.file or
# --web.listen-address.
PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
PROMETHEUS_PORT = 9090
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"


def _dockerfile_cmd(path):
    """Return the arguments of the last exec-form CMD of a Dockerfile, or [] without one."""
    arguments = []
    with open(path, encoding="utf-8") as dockerfile:
        for line in dockerfile:
            match = re.match(r"\s*CMD\s+(\[.*\])\s*$", line)
            if match:
                arguments = json.loads(match.group(1))
    return arguments


def _container_ports(port_mappings):
    """Return the container ports of compose `ports` entries such as "127.0.0.1:9090:9090"."""
    ports = set()
    for mapping in port_mappings or []:
        if isinstance(mapping, dict):
            ports.add(int(mapping["target"]))
        else:
            ports.add(int(str(mapping).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def _seconds(duration):
    """Return the seconds of a compose duration such as 30s or 1m30s."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    if not parts or "".join(number + unit for number, unit in parts) != str(duration):
        raise ValueError(f"invalid duration {duration!r}, expected a number and unit such as 30s or 1m30s")
    return sum(float(number) * units[unit] for number, unit in parts)


def _mounts(service, compose_dir):
    """Return {container path: host path} of a service's bind mounts, host paths made absolute.

    Named volumes, whose source is a name rather than a path, are left out.
    """
    mounts = {}
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        if not source.startswith((".", "/")):
            continue
        target = rest.split(":")[0]
        mounts[target] = os.path.normpath(os.path.join(compose_dir, source))
    return mounts


def _host_file(mounts, container_path):
    """Return the host file that a container path maps to through bind mounts, or None."""
    for target, source in sorted(mounts.items(), key=lambda item: -len(item[0])):
        if container_path == target:
            return source
        if container_path.startswith(target.rstrip("/") + "/"):
            return os.path.join(source, os.path.relpath(container_path, target))
    return None


class ComposeCheck:
    """Checks of the compose file's textgen, prometheus and grafana services."""

    def __init__(self, compose_path, server_defaults):
        self.path = compose_path
        self.name = os.path.basename(compose_path)
        self.directory = os.path.dirname(compose_path)
        self.server_defaults = server_defaults
        self.errors = []

    def error(self, message):
        self.errors.append(f"{self.name}: {message}")

    def run(self):
        compose = load_yaml(self.path)
        self.services = compose.get("services") or {}
        missing = {"textgen", "prometheus", "grafana"} - set(self.services)
        if missing:
            return [f"{self.name}: no service {', '.join(sorted(missing))}"]
        self.check_image_tags()
        self.check_textgen()
        if self.errors:
            return self.errors
        self.check_prometheus()
        self.check_grafana()
        return self.errors

    def check_image_tags(self):
        for name, service in self.services.items():
            if "build" in service:
                continue
            image = service.get("image", "")
            tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
            if not tag or tag == "latest":
                self.error(f"service {name} uses image {image!r} without a fixed tag")

    def check_textgen(self):
        service = self.services["textgen"]
        build = service.get("build") or {}
        context = os.path.normpath(os.path.join(self.directory, build.get("context", ".")))
        dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(dockerfile):
            self.error(f"service textgen builds {dockerfile}, which does not exist")
            return
        command = service.get("command")
        arguments = command if command is not None else _dockerfile_cmd(dockerfile)
        if isinstance(arguments, str):
            arguments = arguments.split()
        try:
            self.textgen = server_settings(arguments, self.server_defaults)
        except FlagError as error:
            self.error(f"service textgen: {error}")
            return

        published = _container_ports(service.get("ports"))
        for port, flag in ((self.textgen.grpc_port, "--listen"), (self.textgen.metrics_port, "--metrics-listen")):
            if port not in published:
                self.error(f"service textgen does not publish port {port}, the server's {flag} port")
        try:
            grace = _seconds(service.get("stop_grace_period", "10s"))
        except ValueError as error:
            self.error(f"service textgen: stop_grace_period: {error}")
            return
        needed = self.textgen.drain_timeout_seconds + SHUTDOWN_MARGIN_SECONDS
        if grace < needed:
            self.error(f"service textgen: stop_grace_period is {grace:g} s, less than --drain-timeout "
                       f"({self.textgen.drain_timeout_seconds:g} s) + the server's {SHUTDOWN_MARGIN_SECONDS} s "
                       "shutdown margin")

    def check_prometheus(self):
        service = self.services["prometheus"]
        if service.get("command") is not None:
            self.error("service prometheus sets `command`; this check knows the image's default "
                       f"--config.file ({PROMETHEUS_CONFIG_FILE}) and port ({PROMETHEUS_PORT}) only")
            return
        mounts = _mounts(service, self.directory)
        for source in mounts.values():
            if not os.path.exists(source):
                self.error(f"service prometheus mounts {source}, which does not exist")
        config_path = _host_file(mounts, PROMETHEUS_CONFIG_FILE)
        if config_path is None or not os.path.isfile(config_path):
            self.error(f"service prometheus mounts no file at {PROMETHEUS_CONFIG_FILE}")
            return
        config = load_yaml(config_path)
        for rule_file in config.get("rule_files") or []:
            in_container = os.path.join(os.path.dirname(PROMETHEUS_CONFIG_FILE), rule_file)
            host_file = _host_file(mounts, in_container)
            if host_file is None or not os.path.isfile(host_file):
                self.error(f"service prometheus: rule file {in_container} named in "
                           f"{os.path.basename(config_path)} is not mounted")
        self.check_scrape_targets(config)

    def check_scrape_targets(self, config):
        metrics_targets = {f"textgen:{self.textgen.metrics_port}"}
        found = False
        for job in config.get("scrape_configs") or []:
            for static in job.get("static_configs") or []:
                for target in static.get("targets") or []:
                    host = target.rpartition(":")[0]
                    if host not in self.services:
                        self.error(f"scrape target {target} of job {job.get('job_name')} is no compose service")
                    elif host == "textgen" and target not in metrics_targets:
                        self.error(f"scrape target {target} is not the textgen metrics port "
                                   f"{self.textgen.metrics_port}")
                    found = found or target in metrics_targets
        if not found:
            self.error(f"no scrape job of prometheus.yml scrapes textgen:{self.textgen.metrics_port}")

    def check_grafana(self):
        service = self.services["grafana"]
        mounts = _mounts(service, self.directory)
        for source in mounts.values():
            if not os.path.exists(source):
                self.error(f"service grafana mounts {source}, which does not exist")
        datasources_dir = _host_file(mounts, f"{GRAFANA_PROVISIONING_DIR}/datasources")
        dashboards_dir = _host_file(mounts, f"{GRAFANA_PROVISIONING_DIR}/dashboards")
        if datasources_dir is None or dashboards_dir is None:
            self.error(f"service grafana does not mount {GRAFANA_PROVISIONING_DIR}/datasources and /dashboards")
            return
        self.check_datasources(datasources_dir)
        self.check_dashboard_providers(dashboards_dir, mounts)
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(str(entry).partition("=")[::2] for entry in environment)
        home = environment.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        if home is not None and not os.path.isfile(_host_file(mounts, home) or ""):
            self.error(f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is no mounted file")

    def check_datasources(self, datasources_dir):
        expected_url = f"http://prometheus:{PROMETHEUS_PORT}"
        urls = []
        for name in sorted(os.listdir(datasources_dir)):
            config = load_yaml(os.path.join(datasources_dir, name))
            urls.extend(source.get("url") for source in config.get("datasources") or []
                        if source.get("type") == "prometheus")
        if expected_url not in urls:
            self.error(f"no Grafana data source points at {expected_url}; found {urls}")

    def check_dashboard_providers(self, dashboards_dir, mounts):
        for name in sorted(os.listdir(dashboards_dir)):
            config = load_yaml(os.path.join(dashboards_dir, name))
            for provider in config.get("providers") or []:
                path = (provider.get("options") or {}).get("path", "")
                host_dir = _host_file(mounts, path)
                if host_dir is None or not os.path.isdir(host_dir):
                    self.error(f"dashboard provider {provider.get('name')} reads {path}, which no volume mounts")
                elif not any(entry.endswith(".json") for entry in os.listdir(host_dir)):
                    self.error(f"dashboard provider {provider.get('name')} reads {host_dir}, which has no dashboard")


def check_compose(compose_path, server_defaults):
    """Return the errors of the compose file at `compose_path`."""
    try:
        return ComposeCheck(compose_path, server_defaults).run()
    except DeployFileError as error:
        return [str(error)]
    except (KeyError, TypeError, AttributeError) as error:
        return [f"{os.path.basename(compose_path)}: a required field is missing or has a wrong type: {error!r}"]
