// The SVG plot of a textgen-bench sweep, written as text without libraries.

#ifndef TEXTGEN_CLIENT_BENCH_SVG_H_
#define TEXTGEN_CLIENT_BENCH_SVG_H_

#include <string>
#include <string_view>
#include <vector>

#include "client/bench_stats.h"

namespace textgen::bench {

// Returns `text` with the characters that XML reserves replaced by entities.
std::string EscapeXml(std::string_view text);

// Returns an SVG document with two panels over the concurrency levels on a
// log2 axis: total generated tokens/s, and time to first token p50 and p99
// with inter-token latency p50 in milliseconds on a log10 axis. `title` and
// `subtitle` head the image. A level without a value leaves a gap in its
// line, and a level with failed requests shows their count in red.
std::string RenderSweepSvg(std::string_view title, std::string_view subtitle,
                           const std::vector<LevelSummary>& levels);

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_SVG_H_
