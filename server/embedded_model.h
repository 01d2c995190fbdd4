#ifndef TEXTGEN_SERVER_EMBEDDED_MODEL_H_
#define TEXTGEN_SERVER_EMBEDDED_MODEL_H_

#include <cstdint>

#include "absl/types/span.h"

namespace textgen {

// The GGUF bytes of the default model (models/textgen-tiny-stories.gguf),
// compiled into the executable so that textgen-server serves something with
// no model file at hand.
absl::Span<const uint8_t> EmbeddedModelBytes();

// The name error messages use for the embedded model.
inline constexpr char kEmbeddedModelName[] = "embedded:textgen-tiny-stories.gguf";

}  // namespace textgen

#endif  // TEXTGEN_SERVER_EMBEDDED_MODEL_H_
