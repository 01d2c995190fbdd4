#!/usr/bin/python3
"""Check the files of deploy/ without a cluster or a container engine.

Checks that the Kubernetes manifests, the compose file and the Prometheus
and Grafana files agree with each other and with textgen-server: ports,
probes, selectors, the autoscaler's metric, and that every PromQL query
names only metrics that server/metric_names.h declares. deploy/check.sh runs
it after promtool's own checks:

    /usr/bin/python3 tests/deploy/check_deploy.py [--source-dir DIR] [--deploy-dir DIR]

Needs Debian's python3-yaml and promtool (package prometheus).
"""

import argparse
import os
import sys

from check_compose import check_compose
from check_kubernetes import check_kubernetes
from check_queries import (adapter_queries, alert_queries, check_dashboard_coverage, check_metric_names,
                           check_syntax, dashboard_queries, display_name)
from deploy_files import DeployFileError, check_all_files_parse, files_under, load_yaml
from exported_metrics import HeaderError, parse_metric_names_header
from prometheus_adapter import read_adapter_rules
from server_flags import flag_defaults

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join("server", "metric_names.h")


def _collect_queries(deploy_dir, adapter_rules, adapter_file):
    """Return the queries of the rule files that prometheus.yml loads, the dashboards and the adapter."""
    prometheus_dir = os.path.join(deploy_dir, "prometheus")
    config = load_yaml(os.path.join(prometheus_dir, "prometheus.yml"))
    queries = []
    for rule_file in config.get("rule_files") or []:
        path = os.path.join(prometheus_dir, rule_file)
        queries += alert_queries(path, display_name(path, deploy_dir))
    for path in files_under(os.path.join(deploy_dir, "grafana", "dashboards"), (".json",)):
        queries += dashboard_queries(path, display_name(path, deploy_dir))
    queries += adapter_queries(adapter_rules, display_name(adapter_file, deploy_dir))
    return queries


def run_checks(source_dir, deploy_dir, promtool="promtool"):
    """Run every check; return a list of (check name, errors), an empty list of errors meaning passed."""
    results = [("YAML and JSON files parse", check_all_files_parse(deploy_dir))]
    try:
        exported = parse_metric_names_header(os.path.join(source_dir, HEADER))
    except (OSError, HeaderError) as error:
        return results + [("metric names header", [str(error)])]
    server_defaults = flag_defaults(source_dir)

    adapter_file = os.path.join(deploy_dir, "kubernetes", "prometheus-adapter-values.yaml")
    try:
        adapter_rules, errors = read_adapter_rules(load_yaml(adapter_file), exported)
    except (DeployFileError, ValueError) as error:
        adapter_rules, errors = [], [f"{display_name(adapter_file, deploy_dir)}: {error}"]
    results.append(("prometheus-adapter rules serve exported metrics", errors))
    served_names = {name for rule in adapter_rules for name in rule.served_names.values()}

    results.append(("Kubernetes manifests name declared ports, probes and metrics",
                    check_kubernetes(os.path.join(deploy_dir, "kubernetes"), server_defaults, served_names)))
    results.append(("compose services, ports and mounts agree",
                    check_compose(os.path.join(deploy_dir, "docker-compose.yml"), server_defaults)))

    try:
        queries = _collect_queries(deploy_dir, adapter_rules, adapter_file)
    except DeployFileError as error:
        return results + [("queries readable", [str(error)])]
    results.append((f"{len(queries)} queries name only exported metrics",
                    check_metric_names(queries, exported, HEADER)))
    results.append(("dashboard shows every exported metric", check_dashboard_coverage(queries, exported, HEADER)))
    results.append(("promtool parses every query", check_syntax(queries, promtool)))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", default=SOURCE_DIR,
                        help="checkout with server/metric_names.h and server/*.cc (default: this checkout)")
    parser.add_argument("--deploy-dir", help="folder to check (default: SOURCE_DIR/deploy)")
    parser.add_argument("--promtool", default="promtool", help="promtool executable")
    arguments = parser.parse_args()
    deploy_dir = arguments.deploy_dir or os.path.join(arguments.source_dir, "deploy")

    results = run_checks(arguments.source_dir, deploy_dir, arguments.promtool)
    for name, errors in results:
        print(f"{'FAIL' if errors else 'PASS'} {name}")
        for error in errors:
            print(f"  - {error}")
    failed = sum(1 for _, errors in results if errors)
    print(f"check_deploy: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
