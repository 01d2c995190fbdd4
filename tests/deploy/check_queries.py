"""Check the PromQL of the dashboard, the alert rules and the adapter rules against the exported metrics."""

import dataclasses
import os
import re
import subprocess
import tempfile

import yaml

from deploy_files import load_json, load_yaml
from promql_names import PromqlError, metric_names_in

# Series that Prometheus adds to every scrape target by itself.
PROMETHEUS_SERIES = frozenset({"up"})
# Values that replace Grafana's variables, so that promtool can parse a query.
_GRAFANA_INTERVAL_VARIABLES = ("__rate_interval", "__interval", "__range")
_GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")


@dataclasses.dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from, for error messages."""

    source: str
    expression: str
    from_dashboard: bool = False


def alert_queries(rules_path, display_name):
    """Return the expression of every rule in a Prometheus rule file."""
    queries = []
    for group in load_yaml(rules_path).get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            queries.append(Query(f"{display_name}: rule {name}", str(rule.get("expr", ""))))
    return queries


def _panels(panels):
    """Yield every panel, the panels inside rows included."""
    for panel in panels or []:
        yield panel
        yield from _panels(panel.get("panels"))


def _template_expression(query):
    """Return the PromQL inside a Grafana template variable query, or None if it has none.

    label_values(EXPRESSION, LABEL) and query_result(EXPRESSION) hold one;
    label_values(LABEL) and label_names() hold none.
    """
    query = query.strip()
    match = re.fullmatch(r"label_values\((.*)\)", query, re.DOTALL)
    if match:
        expression, separator, _ = match.group(1).rpartition(",")
        return expression.strip() if separator else None
    match = re.fullmatch(r"query_result\((.*)\)", query, re.DOTALL)
    if match:
        return match.group(1).strip()
    if re.fullmatch(r"label_names\(\s*\)", query):
        return None
    return query


def dashboard_queries(dashboard_path, display_name):
    """Return the queries of every panel and template variable of a Grafana dashboard."""
    dashboard = load_json(dashboard_path)
    queries = []
    for panel in _panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if "expr" in target:
                queries.append(Query(f"{display_name}: panel {panel.get('title')!r} query "
                                     f"{target.get('refId')}", target["expr"], from_dashboard=True))
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        expression = _template_expression(str(query))
        if expression is not None:
            queries.append(Query(f"{display_name}: variable {variable.get('name')}", expression,
                                 from_dashboard=True))
    return queries


def adapter_queries(rules, display_name):
    """Return the seriesQuery and the filled-in metricsQuery of every adapter rule."""
    queries = []
    for rule in rules:
        queries.append(Query(f"{display_name}: rule {rule.index} seriesQuery", rule.series_query))
        for series_name in rule.served_names:
            queries.append(Query(f"{display_name}: rule {rule.index} metricsQuery for {series_name}",
                                 rule.rendered_metrics_query(series_name)))
    return queries


def check_metric_names(queries, exported, header_name):
    """Return an error for each series name of a query that the server does not export."""
    errors = []
    for query in queries:
        try:
            names = metric_names_in(query.expression)
        except PromqlError as error:
            errors.append(f"{query.source}: {error}")
            continue
        if not names:
            errors.append(f"{query.source}: {query.expression!r} selects no metric")
        for name in sorted(names):
            if name not in PROMETHEUS_SERIES and exported.base_name(name) is None:
                errors.append(f"{query.source}: {name} is not a series of a metric in {header_name}")
    return errors


def check_dashboard_coverage(queries, exported, header_name):
    """Return an error for each exported metric that no dashboard query shows."""
    shown_metrics = set()
    for query in queries:
        if query.from_dashboard:
            try:
                shown_metrics |= {exported.base_name(name) for name in metric_names_in(query.expression)}
            except PromqlError:
                pass  # check_metric_names reports it
    return [f"no dashboard query shows {name}, which {header_name} declares"
            for name in sorted(exported.names - shown_metrics)]


def _plain_promql(expression):
    """Replace Grafana variables: intervals with 5m, other variables with a word."""
    def replacement(match):
        name = match.group(1) or match.group(2)
        return "5m" if name in _GRAFANA_INTERVAL_VARIABLES else "placeholder"
    return _GRAFANA_VARIABLE.sub(replacement, expression)


def _promtool_check(expressions, promtool):
    """Run `promtool check rules` on recording rules of `expressions`; return (ok, output)."""
    rules = [{"record": f"deploy_query_{index}", "expr": _plain_promql(expression)}
             for index, expression in enumerate(expressions)]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="deploy-queries-") as rules_file:
        yaml.safe_dump({"groups": [{"name": "deploy_queries", "rules": rules}]}, rules_file)
        rules_file.flush()
        result = subprocess.run([promtool, "check", "rules", rules_file.name],
                                capture_output=True, text=True, check=False)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def check_syntax(queries, promtool):
    """Return an error for each query that promtool cannot parse.

    All queries go to promtool in one rule file first. Only when that run
    fails does each query get a run of its own, which names the failing ones.
    """
    ok, _ = _promtool_check([query.expression for query in queries], promtool)
    if ok:
        return []
    errors = []
    for query in queries:
        ok, output = _promtool_check([query.expression], promtool)
        if not ok:
            errors.append(f"{query.source}: promtool cannot parse {query.expression!r}: {output}")
    return errors or ["promtool check rules failed on all queries together but on none alone"]


def display_name(path, deploy_dir):
    """Return `path` relative to deploy/'s parent, as error messages show it."""
    return os.path.relpath(path, os.path.dirname(os.path.normpath(deploy_dir)))
