#ifndef TEXTGEN_ENGINE_UTIL_STATUS_MACROS_H_
#define TEXTGEN_ENGINE_UTIL_STATUS_MACROS_H_

// Early-return helpers for absl::Status and absl::StatusOr. Abseil 20220623
// ships no status macros, so the project defines this one pair here.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status textgen_status_ = (expr);          \
    if (!textgen_status_.ok()) return textgen_status_; \
  } while (false)

#define TEXTGEN_CONCAT_INNER_(a, b) a##b
#define TEXTGEN_CONCAT_(a, b) TEXTGEN_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::StatusOr<T>); returns its status when it is not
// OK, and otherwise moves its value into `lhs`, which may be a declaration:
//   ASSIGN_OR_RETURN(auto file, OpenFile(path));
#define ASSIGN_OR_RETURN(lhs, expr) \
  TEXTGEN_ASSIGN_OR_RETURN_IMPL_(TEXTGEN_CONCAT_(textgen_statusor_, __LINE__), lhs, expr)

#define TEXTGEN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // TEXTGEN_ENGINE_UTIL_STATUS_MACROS_H_
