#include "engine/generate/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace textgen {

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop_in_output)
    : stops_(std::move(stops)), include_stop_in_output_(include_stop_in_output) {
  for (const std::string& stop : stops_) max_stop_size_ = std::max(max_stop_size_, stop.size());
}

std::string StopMatcher::Add(std::string_view piece, bool match_stops) {
  if (matched()) return "";
  const size_t searched_end = held_.size();
  held_.append(piece);

  if (match_stops) {
    if (std::optional<Occurrence> occurrence = FindFirstOccurrence(searched_end)) {
      matched_ = true;
      matched_stop_ = stops_[occurrence->stop_index];
      std::string released = TakeHeld(include_stop_in_output_ ? occurrence->end : occurrence->start);
      held_.clear();
      return released;
    }
  }
  return TakeHeld(HoldBackStart());
}

std::string StopMatcher::Flush() {
  if (matched()) return "";
  return TakeHeld(held_.size());
}

std::optional<StopMatcher::Occurrence> StopMatcher::FindFirstOccurrence(
    size_t searched_end) const {
  std::optional<Occurrence> first;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const std::string& stop = stops_[i];
    if (stop.empty()) continue;

    // An occurrence ends after searched_end when it starts after
    // searched_end - stop.size(). The first such one of this stop string is
    // also the one that ends first.
    const size_t from = searched_end >= stop.size() ? searched_end - stop.size() + 1 : 0;
    const size_t start = held_.find(stop, from);
    if (start == std::string::npos) continue;

    const Occurrence found{i, start, start + stop.size()};
    const bool ends_first = !first.has_value() || found.end < first->end ||
                            (found.end == first->end && found.start < first->start);
    if (ends_first) first = found;
  }
  return first;
}

size_t StopMatcher::HoldBackStart() const {
  // Only the last max_stop_size_ - 1 bytes can be a proper prefix of a stop.
  const size_t size = held_.size();
  const size_t lowest = max_stop_size_ > size ? 0 : size - max_stop_size_ + 1;
  for (size_t start = lowest; start < size; ++start) {
    const std::string_view tail = std::string_view(held_).substr(start);
    for (const std::string& stop : stops_) {
      if (stop.size() > tail.size() && std::string_view(stop).substr(0, tail.size()) == tail) {
        return start;
      }
    }
  }
  return size;
}

std::string StopMatcher::TakeHeld(size_t count) {
  std::string prefix = held_.substr(0, count);
  held_.erase(0, count);
  return prefix;
}

}  // namespace textgen
