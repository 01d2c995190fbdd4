"""Tests of check_deploy: each check passes on deploy/ as it is and fails on a copy with one mistake."""

import glob
import os
import shutil
import tempfile
import unittest

from check_deploy import HEADER, SOURCE_DIR, run_checks

NAMES = "queries name only exported metrics"
KUBERNETES = "Kubernetes manifests"
COMPOSE = "compose services"
ADAPTER = "prometheus-adapter rules"
SYNTAX = "promtool parses every query"
COVERAGE = "dashboard shows every exported metric"

DASHBOARD = "deploy/grafana/dashboards/textgen.json"
ALERTS = "deploy/prometheus/alerts.yml"
DEPLOYMENT = "deploy/kubernetes/deployment.yaml"


class CheckDeployTest(unittest.TestCase):

    def setUp(self):
        # A checkout with the files that the checks read: deploy/, the
        # Dockerfile that the compose file builds, and server/.
        self.temporary = tempfile.TemporaryDirectory(prefix="check-deploy-")
        self.checkout = self.temporary.name
        shutil.copytree(os.path.join(SOURCE_DIR, "deploy"), os.path.join(self.checkout, "deploy"))
        shutil.copy(os.path.join(SOURCE_DIR, "Dockerfile"), self.checkout)
        os.mkdir(os.path.join(self.checkout, "server"))
        for path in glob.glob(os.path.join(SOURCE_DIR, "server", "*.cc")) + [os.path.join(SOURCE_DIR, HEADER)]:
            shutil.copy(path, os.path.join(self.checkout, "server"))

    def tearDown(self):
        self.temporary.cleanup()

    def edit(self, relative_path, old, new):
        """Replace every `old` in a file of the copy; `old` must occur."""
        path = os.path.join(self.checkout, relative_path)
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        self.assertIn(old, text, f"the test's edit does not apply to {relative_path}")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text.replace(old, new))

    def errors_of(self, check_name_part):
        """Run the checks on the copy; return the errors of the check whose name contains `check_name_part`."""
        results = run_checks(self.checkout, os.path.join(self.checkout, "deploy"))
        matching = [errors for name, errors in results if check_name_part in name]
        self.assertEqual(len(matching), 1, f"no single check named like {check_name_part!r} in {results}")
        return matching[0]

    def assert_error_mentions(self, check_name_part, text):
        errors = self.errors_of(check_name_part)
        self.assertTrue(any(text in error for error in errors),
                        f"no error of {check_name_part!r} mentions {text!r}: {errors}")

    def test_unchanged_copy_passes(self):
        results = run_checks(self.checkout, os.path.join(self.checkout, "deploy"))
        self.assertEqual([(name, errors) for name, errors in results if errors], [])
        self.assertEqual(len(results), 7)

    def test_unknown_metric_in_dashboard(self):
        self.edit(DASHBOARD, "textgen_generated_tokens_total{", "textgen_generated_token_total{")
        self.assert_error_mentions(NAMES, "textgen_generated_token_total")
        self.assert_error_mentions(COVERAGE, "textgen_generated_tokens_total")

    def test_unknown_metric_in_alert(self):
        self.edit(ALERTS, "min_over_time(textgen_waiting_requests[", "min_over_time(textgen_queue_length[")
        self.assert_error_mentions(NAMES, "rule TextgenQueueGrowing: textgen_queue_length")

    def test_histogram_suffix_on_counter(self):
        self.edit(ALERTS, "rate(textgen_requests_total[5m])", "rate(textgen_requests_total_count[5m])")
        self.assert_error_mentions(NAMES, "textgen_requests_total_count")

    def test_histogram_without_suffix(self):
        self.edit(ALERTS, "textgen_time_to_first_token_seconds_bucket[", "textgen_time_to_first_token_seconds[")
        self.assert_error_mentions(NAMES, "rule TextgenSlowFirstToken: textgen_time_to_first_token_seconds ")

    def test_metric_removed_from_header(self):
        self.edit(os.path.join("server", "metric_names.h"), '"textgen_kv_cache_usage_ratio"', '"textgen_kv_use"')
        self.assert_error_mentions(NAMES, "textgen_kv_cache_usage_ratio")

    def test_autoscaler_metric_not_served(self):
        self.edit("deploy/kubernetes/hpa.yaml", "name: textgen_waiting_requests", "name: textgen_queue")
        self.assert_error_mentions(KUBERNETES, "Pods metric textgen_queue")

    def test_adapter_rule_renames_metric(self):
        self.edit("deploy/kubernetes/prometheus-adapter-values.yaml",
                  'as: "textgen_waiting_requests"', 'as: "waiting_per_pod"')
        self.assert_error_mentions(KUBERNETES, "Pods metric textgen_waiting_requests")

    def test_adapter_rule_selects_unknown_series(self):
        self.edit("deploy/kubernetes/prometheus-adapter-values.yaml",
                  "seriesQuery: 'textgen_waiting_requests{", "seriesQuery: 'textgen_waiting{")
        self.assert_error_mentions(ADAPTER, "textgen_waiting")

    def test_probe_on_other_port(self):
        self.edit(DEPLOYMENT, "readinessProbe:\n            grpc:\n              port: 50051",
                  "readinessProbe:\n            grpc:\n              port: 50052")
        self.assert_error_mentions(KUBERNETES, "readinessProbe probes port 50052")

    def test_listen_flag_on_other_port(self):
        self.edit(DEPLOYMENT, "--listen=0.0.0.0:50051", "--listen=0.0.0.0:50052")
        self.assert_error_mentions(KUBERNETES, "containerPort `grpc` is 50051")
        self.assert_error_mentions(KUBERNETES, "livenessProbe probes port 50051")

    def test_metrics_flag_on_other_port(self):
        self.edit(DEPLOYMENT, "--metrics-listen=0.0.0.0:9464", "--metrics-listen=0.0.0.0:9100")
        self.assert_error_mentions(KUBERNETES, "--metrics-listen port is 9100")

    def test_service_target_port_undeclared(self):
        self.edit("deploy/kubernetes/service.yaml", "targetPort: metrics", "targetPort: prometheus")
        self.assert_error_mentions(KUBERNETES, "targetPort prometheus")

    def test_service_monitor_port_unknown(self):
        self.edit("deploy/kubernetes/servicemonitor.yaml", "- port: metrics", "- port: http-metrics")
        self.assert_error_mentions(KUBERNETES, "'http-metrics' is no port of Service textgen")

    def test_service_monitor_selects_both_services(self):
        self.edit("deploy/kubernetes/service-headless.yaml", "component: server-endpoints", "component: server")
        self.assert_error_mentions(KUBERNETES, "matches 2 Services")

    def test_grace_period_shorter_than_drain(self):
        self.edit(DEPLOYMENT, "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 25")
        self.assert_error_mentions(KUBERNETES, "terminationGracePeriodSeconds is 25")

    def test_requests_differ_from_limits(self):
        self.edit(DEPLOYMENT, 'requests:\n              cpu: "4"', 'requests:\n              cpu: "2"')
        self.assert_error_mentions(KUBERNETES, "resources.requests.cpu (2)")

    def test_file_missing_from_kustomization(self):
        self.edit("deploy/kubernetes/kustomization.yaml", "  - pdb.yaml\n", "")
        self.assert_error_mentions(KUBERNETES, "pdb.yaml")

    def test_compose_without_metrics_port(self):
        self.edit("deploy/docker-compose.yml", '      - "127.0.0.1:9464:9464"\n', "")
        self.assert_error_mentions(COMPOSE, "does not publish port 9464")

    def test_compose_stop_grace_period_too_short(self):
        self.edit("deploy/docker-compose.yml", "stop_grace_period: 30s", "stop_grace_period: 10s")
        self.assert_error_mentions(COMPOSE, "stop_grace_period is 10 s")

    def test_compose_image_without_tag(self):
        self.edit("deploy/docker-compose.yml", "image: grafana/grafana:11.1.0", "image: grafana/grafana")
        self.assert_error_mentions(COMPOSE, "grafana/grafana")

    def test_scrape_target_on_other_port(self):
        self.edit("deploy/prometheus/prometheus.yml", '"textgen:9464"', '"textgen:9465"')
        self.assert_error_mentions(COMPOSE, "textgen:9465")

    def test_rule_file_not_mounted(self):
        self.edit("deploy/docker-compose.yml", "      - ./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro\n", "")
        self.assert_error_mentions(COMPOSE, "/etc/prometheus/alerts.yml")

    def test_promtool_rejects_dashboard_query(self):
        self.edit(DASHBOARD, "histogram_quantile(0.5, sum by (le) (rate(textgen_queue_time_seconds_bucket",
                  "histogram_quantile(0.5,, sum by (le) (rate(textgen_queue_time_seconds_bucket")
        self.assert_error_mentions(SYNTAX, "panel 'Request duration and queue time' query C")


if __name__ == "__main__":
    unittest.main()
