"""Read the metric names that textgen-server exports from server/metric_names.h."""

import dataclasses
import re

# One name constant: `inline constexpr char kName[] = "value";`, which may wrap
# after the `=`.
_CONSTANT = re.compile(r'inline\s+constexpr\s+char\s+(\w+)\[\]\s*=\s*"([^"]*)"\s*;')
# Series that Prometheus's text format derives from one histogram.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class HeaderError(Exception):
    """The header has no name constants, or a constant is malformed."""


@dataclasses.dataclass(frozen=True)
class ExportedMetrics:
    """Metric and label names of the header, and which metrics are histograms."""

    names: frozenset
    histograms: frozenset
    labels: frozenset

    def base_name(self, series_name):
        """Return the exported metric that `series_name` is a series of, or None.

        A histogram `h` is scraped as `h_bucket`, `h_sum` and `h_count`, and a
        query may name any of these but not `h` itself. Other metrics are
        scraped under their own name only.
        """
        if series_name in self.names and series_name not in self.histograms:
            return series_name
        for suffix in HISTOGRAM_SUFFIXES:
            base = series_name.removesuffix(suffix)
            if base != series_name and base in self.histograms:
                return base
        return None


def parse_metric_names_header(path):
    """Parse the name constants of `path`, grouped by their comment paragraphs.

    A constant whose C++ name ends in `Label` is a label name. A metric is a
    histogram when the first comment line of its paragraph (the lines up to
    the previous blank line) starts with "Histograms".
    """
    with open(path, encoding="utf-8") as header:
        text = header.read()

    names, histograms, labels = set(), set(), set()
    for paragraph in re.split(r"\n\s*\n", text):
        comments = [line.strip() for line in paragraph.splitlines() if line.strip().startswith("//")]
        is_histogram_paragraph = bool(comments) and comments[0].startswith("// Histograms")
        for constant, value in _CONSTANT.findall(paragraph):
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", value):
                raise HeaderError(f"{path}: {constant} is {value!r}, not a valid Prometheus name")
            if constant.endswith("Label"):
                labels.add(value)
                continue
            names.add(value)
            if is_histogram_paragraph:
                histograms.add(value)

    if not names:
        raise HeaderError(f"{path}: no `inline constexpr char kName[] = \"...\";` metric names found")
    return ExportedMetrics(frozenset(names), frozenset(histograms), frozenset(labels))
