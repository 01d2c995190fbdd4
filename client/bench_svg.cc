#include "client/bench_svg.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace textgen::bench {
namespace {

// The layout in SVG user units (pixels). Panels sit side by side, and the
// plot area's x coordinates are relative to the panel's left edge.
constexpr double kWidth = 1000;
constexpr double kHeight = 475;
constexpr double kPanelWidth = kWidth / 2;
constexpr double kPlotLeft = 80;
constexpr double kPlotRight = 470;
constexpr double kPlotTop = 125;
constexpr double kPlotBottom = 400;
// Keeps the points of the lowest and highest level off the plot's edges.
constexpr double kEdgePadding = 24;
// The width of one character of 12-pixel sans-serif text, estimated.
constexpr double kCharacterWidth = 6.8;

constexpr char kTextStyle[] = "font-family=\"sans-serif\" fill=\"#222\"";

struct Series {
  std::string label;
  std::string color;
  bool dashed = false;
  // One value per level. An empty value leaves a gap.
  std::vector<std::optional<double>> values;
};

struct Panel {
  std::string title;
  std::string y_label;
  // Whether the y axis has a log10 scale, for values that span decades.
  bool log_scale = false;
  std::vector<Series> series;
};

struct Tick {
  double value = 0;
  std::string label;
};

// A vertical axis from `bottom` to `top`, linear or on a log10 scale.
struct YAxis {
  bool log_scale = false;
  double bottom = 0;
  double top = 1;
  std::vector<Tick> ticks;
};

// Formats a tick value with the decimals that a value below 1 needs.
std::string FormatTickValue(double value) {
  int decimals = 0;
  if (value > 0 && value < 1) {
    decimals = static_cast<int>(std::ceil(-std::log10(value) - 1e-9));
  }
  return absl::StrFormat("%.*f", decimals, value);
}

// Returns a linear axis from 0 whose ticks are 1, 2 or 5 times a power of
// ten, about five of them, and whose top is at or above `max_value`.
YAxis LinearYAxis(double max_value) {
  if (!std::isfinite(max_value) || max_value <= 0) max_value = 1;
  const double rough_step = max_value / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(rough_step)));
  const double fraction = rough_step / magnitude;
  double multiple = 10;
  if (fraction <= 1) {
    multiple = 1;
  } else if (fraction <= 2) {
    multiple = 2;
  } else if (fraction <= 5) {
    multiple = 5;
  }
  const double step = multiple * magnitude;
  const int tick_count = static_cast<int>(std::ceil(max_value / step - 1e-9));

  YAxis axis;
  axis.top = tick_count * step;
  const int decimals =
      std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  for (int i = 0; i <= tick_count; ++i) {
    axis.ticks.push_back(
        {i * step, absl::StrFormat("%.*f", decimals, i * step)});
  }
  return axis;
}

// Returns a log10 axis over whole decades that contain the positive values
// from `min_value` to `max_value`, with ticks at 1, 2 and 5 times each power
// of ten when it spans at most two decades.
YAxis LogYAxis(double min_value, double max_value) {
  if (!(min_value > 0) || !(max_value >= min_value)) {
    min_value = 1;
    max_value = 1;
  }
  const int low = static_cast<int>(std::floor(std::log10(min_value)));
  int high = static_cast<int>(std::ceil(std::log10(max_value)));
  if (high == low) ++high;

  YAxis axis;
  axis.log_scale = true;
  axis.bottom = std::pow(10, low);
  axis.top = std::pow(10, high);
  const bool with_multiples = high - low <= 2;
  for (int exponent = low; exponent <= high; ++exponent) {
    const double power = std::pow(10, exponent);
    axis.ticks.push_back({power, FormatTickValue(power)});
    if (!with_multiples || exponent == high) continue;
    axis.ticks.push_back({2 * power, FormatTickValue(2 * power)});
    axis.ticks.push_back({5 * power, FormatTickValue(5 * power)});
  }
  return axis;
}

// Maps concurrency levels to x positions within a plot on a log2 scale, so
// that a doubling sweep such as 1, 2, 4, 8 gets evenly spaced points.
class XScale {
 public:
  XScale(const std::vector<LevelSummary>& levels, double left, double right)
      : left_(left + kEdgePadding), right_(right - kEdgePadding) {
    for (const LevelSummary& level : levels) {
      const double log_level = std::log2(std::max(level.concurrency, 1));
      min_log_ = std::min(min_log_, log_level);
      max_log_ = std::max(max_log_, log_level);
    }
  }

  double Position(int concurrency) const {
    if (!(max_log_ > min_log_)) return (left_ + right_) / 2;
    const double log_level = std::log2(std::max(concurrency, 1));
    return left_ +
           (log_level - min_log_) / (max_log_ - min_log_) * (right_ - left_);
  }

 private:
  double left_;
  double right_;
  double min_log_ = INFINITY;
  double max_log_ = -INFINITY;
};

double YPosition(const YAxis& axis, double value) {
  double fraction = 0;
  if (axis.log_scale) {
    const double clamped = std::max(value, axis.bottom);
    fraction = (std::log10(clamped) - std::log10(axis.bottom)) /
               (std::log10(axis.top) - std::log10(axis.bottom));
  } else {
    fraction = (value - axis.bottom) / (axis.top - axis.bottom);
  }
  return kPlotBottom - fraction * (kPlotBottom - kPlotTop);
}

void AppendText(double x, double y, std::string_view anchor, int size,
                std::string_view text, std::string* svg,
                std::string_view extra_attributes = "") {
  absl::StrAppendFormat(
      svg,
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" %s%s>"
      "%s</text>\n",
      x, y, anchor, size, kTextStyle, extra_attributes, EscapeXml(text));
}

void AppendYAxis(const Panel& panel, const YAxis& axis, double left,
                 double right, std::string* svg) {
  for (const Tick& tick : axis.ticks) {
    const double y = YPosition(axis, tick.value);
    absl::StrAppendFormat(svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                          left, y, right, y);
    AppendText(left - 6, y + 4, "end", 12, tick.label, svg);
  }
  const double label_x = left - 58;
  const double label_y = (kPlotTop + kPlotBottom) / 2;
  AppendText(label_x, label_y, "middle", 13, panel.y_label, svg,
             absl::StrFormat(" transform=\"rotate(-90 %.1f %.1f)\"", label_x,
                             label_y));
}

// Draws a tick and label at each concurrency level, with the count of failed
// requests in red below the label of a level where some failed.
void AppendXAxis(const std::vector<LevelSummary>& levels, const XScale& scale,
                 double left, double right, std::string* svg) {
  std::map<int, int64_t> failed_by_concurrency;
  for (const LevelSummary& level : levels) {
    failed_by_concurrency[level.concurrency] += level.requests_failed;
  }
  for (const auto& [concurrency, failed] : failed_by_concurrency) {
    const double x = scale.Position(concurrency);
    absl::StrAppendFormat(svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"#222\"/>\n",
                          x, kPlotBottom, x, kPlotBottom + 5);
    AppendText(x, kPlotBottom + 19, "middle", 12, absl::StrCat(concurrency),
               svg);
    if (failed > 0) {
      AppendText(x, kPlotBottom + 32, "middle", 10,
                 absl::StrCat(failed, " failed"), svg,
                 " class=\"failed\" style=\"fill:#d62728\"");
    }
  }
  AppendText((left + right) / 2, kPlotBottom + 50, "middle", 13,
             "concurrency (closed-loop streams, log2 scale)", svg);
}

void AppendLegend(const Panel& panel, double left, std::string* svg) {
  double x = left;
  const double y = kPlotTop - 18;
  for (const Series& series : panel.series) {
    absl::StrAppendFormat(svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                          x, y, x + 24, y, series.color,
                          series.dashed ? " stroke-dasharray=\"6 4\"" : "");
    AppendText(x + 30, y + 4, "start", 12, series.label, svg);
    x += 30 + series.label.size() * kCharacterWidth + 22;
  }
}

// Draws the series as lines through its points. An empty value ends a line.
void AppendSeries(const Series& series, const std::vector<LevelSummary>& levels,
                  const XScale& scale, const YAxis& axis, std::string* svg) {
  std::vector<std::string> segments(1);
  for (size_t i = 0; i < levels.size(); ++i) {
    if (!series.values[i].has_value()) {
      segments.emplace_back();
      continue;
    }
    const double x = scale.Position(levels[i].concurrency);
    const double y = YPosition(axis, *series.values[i]);
    absl::StrAppendFormat(&segments.back(), "%s%.1f,%.1f",
                          segments.back().empty() ? "" : " ", x, y);
    absl::StrAppendFormat(
        svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x, y,
        series.color);
  }
  for (const std::string& points : segments) {
    if (points.find(' ') == std::string::npos) continue;
    absl::StrAppendFormat(svg,
                          "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                          "stroke-width=\"2\"%s/>\n",
                          points, series.color,
                          series.dashed ? " stroke-dasharray=\"6 4\"" : "");
  }
}

// Returns the y axis that fits every value of the panel.
YAxis ChooseYAxis(const Panel& panel) {
  double min_positive = INFINITY;
  double max_value = 0;
  for (const Series& series : panel.series) {
    for (const std::optional<double>& value : series.values) {
      if (!value.has_value()) continue;
      max_value = std::max(max_value, *value);
      if (*value > 0) min_positive = std::min(min_positive, *value);
    }
  }
  if (panel.log_scale) return LogYAxis(min_positive, max_value);
  return LinearYAxis(max_value);
}

void AppendPanel(const Panel& panel, double offset,
                 const std::vector<LevelSummary>& levels, std::string* svg) {
  const double left = offset + kPlotLeft;
  const double right = offset + kPlotRight;
  const XScale scale(levels, left, right);
  const YAxis axis = ChooseYAxis(panel);

  absl::StrAppendFormat(svg, "<g class=\"panel\">\n");
  AppendText((left + right) / 2, kPlotTop - 42, "middle", 15, panel.title, svg,
             " font-weight=\"bold\"");
  AppendLegend(panel, left, svg);
  AppendYAxis(panel, axis, left, right, svg);
  AppendXAxis(levels, scale, left, right, svg);
  absl::StrAppendFormat(svg,
                        "<polyline points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
                        "fill=\"none\" stroke=\"#222\"/>\n",
                        left, kPlotTop, left, kPlotBottom, right, kPlotBottom);
  for (const Series& series : panel.series) {
    AppendSeries(series, levels, scale, axis, svg);
  }
  absl::StrAppend(svg, "</g>\n");
}

template <typename Field>
std::vector<std::optional<double>> Column(
    const std::vector<LevelSummary>& levels, Field field) {
  std::vector<std::optional<double>> values;
  for (const LevelSummary& level : levels) values.push_back(level.*field);
  return values;
}

Panel ThroughputPanel(const std::vector<LevelSummary>& levels) {
  Panel panel;
  panel.title = "Total generated tokens/s";
  panel.y_label = "tokens/s (all streams)";
  panel.series.push_back(
      {"generated tokens/s", "#1f77b4", false,
       Column(levels, &LevelSummary::generated_tokens_per_second)});
  return panel;
}

Panel LatencyPanel(const std::vector<LevelSummary>& levels) {
  Panel panel;
  panel.title = "Time to first token (TTFT), inter-token";
  panel.y_label = "milliseconds (log10 scale)";
  panel.log_scale = true;
  panel.series.push_back(
      {"TTFT p50", "#ff7f0e", false,
       Column(levels, &LevelSummary::time_to_first_token_p50_ms)});
  panel.series.push_back(
      {"TTFT p99", "#d62728", true,
       Column(levels, &LevelSummary::time_to_first_token_p99_ms)});
  panel.series.push_back({"inter-token p50", "#2ca02c", false,
                          Column(levels, &LevelSummary::inter_token_p50_ms)});
  return panel;
}

}  // namespace

std::string EscapeXml(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string RenderSweepSvg(std::string_view title, std::string_view subtitle,
                           const std::vector<LevelSummary>& levels) {
  std::vector<LevelSummary> sorted = levels;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const LevelSummary& a, const LevelSummary& b) {
                     return a.concurrency < b.concurrency;
                   });

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, kHeight, kWidth, kHeight);
  AppendText(kWidth / 2, 30, "middle", 18, title, &svg,
             " font-weight=\"bold\"");
  AppendText(kWidth / 2, 52, "middle", 13, subtitle, &svg);
  AppendPanel(ThroughputPanel(sorted), 0, sorted, &svg);
  AppendPanel(LatencyPanel(sorted), kPanelWidth, sorted, &svg);
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace textgen::bench
