"""Tests of promql_names: which identifiers of a PromQL expression are metric names."""

import unittest

from promql_names import PromqlError, metric_names_in


class MetricNamesInTest(unittest.TestCase):

    def test_plain_selector(self):
        self.assertEqual(metric_names_in("textgen_running_requests"), {"textgen_running_requests"})

    def test_label_names_and_values_are_not_metrics(self):
        expression = 'rate(requests_total{code="INTERNAL", job=~"text.*", le!="0.5"}[5m])'
        self.assertEqual(metric_names_in(expression), {"requests_total"})

    def test_grouping_labels_are_not_metrics(self):
        expression = ("histogram_quantile(0.99, sum by (job, le) (rate(latency_bucket[5m]))) "
                      "/ on (job) group_left (version) info")
        self.assertEqual(metric_names_in(expression), {"latency_bucket", "info"})

    def test_grouping_after_aggregated_expression(self):
        expression = "sum(rate(errors_total[5m])) without (instance, code)"
        self.assertEqual(metric_names_in(expression), {"errors_total"})

    def test_functions_and_aggregations_are_not_metrics(self):
        expression = ("topk(3, max_over_time(waiting[10m])) and deriv(waiting[10m]) > 0 "
                      "unless count_values(\"v\", quantile(0.5, other))")
        self.assertEqual(metric_names_in(expression), {"waiting", "other"})

    def test_keywords_numbers_and_durations(self):
        expression = "a > bool 1e3 or b offset 1h30m < Inf and c @ 1609746000 != NaN * 0x1F"
        self.assertEqual(metric_names_in(expression), {"a", "b", "c"})

    def test_strings_are_not_metrics(self):
        expression = 'label_replace(up, "destination", "$1", "source", "(some_name.*)")'
        self.assertEqual(metric_names_in(expression), {"up"})

    def test_grafana_variables(self):
        expression = 'rate(tokens_total{instance=~"$instance"}[$__rate_interval]) * ${factor}'
        self.assertEqual(metric_names_in(expression), {"tokens_total"})

    def test_subquery_range(self):
        self.assertEqual(metric_names_in("max_over_time(rate(a_total[1m])[1h:5m])"), {"a_total"})

    def test_name_label_selects_metric(self):
        self.assertEqual(metric_names_in('{__name__="waiting", pod!=""}'), {"waiting"})

    def test_closing_brace_inside_string(self):
        self.assertEqual(metric_names_in('a{path="}"} + b'), {"a", "b"})

    def test_name_regex_cannot_be_checked(self):
        with self.assertRaises(PromqlError):
            metric_names_in('{__name__=~"textgen_.*"}')

    def test_unclosed_brace(self):
        with self.assertRaises(PromqlError):
            metric_names_in('a{job="x"')

    def test_unbalanced_grouping(self):
        with self.assertRaises(PromqlError):
            metric_names_in("sum by (le (a)")


if __name__ == "__main__":
    unittest.main()
