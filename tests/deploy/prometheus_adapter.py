"""Read the rules of a prometheus-adapter configuration and the metric names they produce."""

import dataclasses
import re

from promql_names import PromqlError, metric_names_in

# Values substituted for the adapter's query templates, to get plain PromQL.
_TEMPLATE_VALUES = {
    "<<.Series>>": None,  # the rule's series name
    "<<.LabelMatchers>>": 'namespace="default",pod=~"textgen-a|textgen-b"',
    "<<.GroupBy>>": "pod",
}


@dataclasses.dataclass(frozen=True)
class AdapterRule:
    """One discovery rule, with its series and the custom metric name each is served as."""

    index: int
    series_query: str
    metrics_query: str
    # {Prometheus series name: custom metric name}
    served_names: dict
    resources: dict

    def rendered_metrics_query(self, series_name):
        """Return metricsQuery with its templates filled in for `series_name`."""
        query = self.metrics_query
        for template, value in _TEMPLATE_VALUES.items():
            query = query.replace(template, series_name if value is None else value)
        return query


def rules_of(config):
    """Return the rule list of a Helm values file (rules.custom) or of an adapter config file (rules)."""
    rules = config.get("rules")
    if isinstance(rules, dict):
        rules = rules.get("custom")
    if not isinstance(rules, list) or not rules:
        raise ValueError("no adapter rules: expected a list under rules.custom (Helm values) "
                         "or rules (adapter configuration)")
    return rules


def go_replacement_to_python(template):
    """Convert a Go regexp replacement template ($1, ${1}, ${name}) to Python's \\g<...> form."""
    escaped = template.replace("\\", "\\\\")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda match: f"\\g<{match.group(1) or match.group(2)}>", escaped)


def served_name(rule, series_name):
    """Return the custom metric name that `rule` serves `series_name` as, or None if it does not match.

    As prometheus-adapter's docs/config.md states, `name.matches` defaults to
    `.*`, and `name.as` to $0 without capture groups and to $1 with one. With
    more groups `as` is required.
    """
    naming = rule.get("name") or {}
    pattern = re.compile(naming.get("matches", ".*"))
    template = naming.get("as")
    if not template:
        if pattern.groups > 1:
            raise ValueError(f"name.matches {pattern.pattern!r} has {pattern.groups} capture groups, "
                             "so name.as is required")
        template = "$1" if pattern.groups == 1 else "$0"
    match = pattern.search(series_name)
    if match is None:
        return None
    return match.expand(go_replacement_to_python(template))


def read_adapter_rules(config, exported):
    """Return (rules, errors): the parsed rules of `config`, and what is wrong with them.

    Each rule must select only series that textgen-server exports, map some
    label to Kubernetes pods, and use the templates of a Pods metric query.
    """
    rules, errors = [], []
    for index, rule in enumerate(rules_of(config)):
        where = f"rule {index}"
        series_query = rule.get("seriesQuery", "")
        metrics_query = rule.get("metricsQuery", "")
        try:
            series_names = metric_names_in(series_query)
        except PromqlError as error:
            errors.append(f"{where}: seriesQuery: {error}")
            continue
        if not series_names:
            errors.append(f"{where}: seriesQuery {series_query!r} names no metric")
        for name in sorted(series_names):
            if exported.base_name(name) is None:
                errors.append(f"{where}: seriesQuery names {name}, which textgen-server does not export")

        overrides = (rule.get("resources") or {}).get("overrides") or {}
        if not any((target or {}).get("resource") in ("pod", "pods") for target in overrides.values()):
            errors.append(f"{where}: resources.overrides maps no label to the pod resource, "
                          "so the rule cannot serve a Pods metric")
        for template in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            if template not in metrics_query:
                errors.append(f"{where}: metricsQuery lacks {template}")

        served = {}
        for name in sorted(series_names):
            try:
                custom_name = served_name(rule, name)
            except (ValueError, re.error) as error:
                errors.append(f"{where}: {error}")
                continue
            if custom_name is None:
                errors.append(f"{where}: name.matches does not match the series {name}")
            else:
                served[name] = custom_name
        rules.append(AdapterRule(index, series_query, metrics_query, served, overrides))
    return rules, errors
