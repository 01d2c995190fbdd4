#include "server/embedded_model.h"

extern "C" const uint8_t textgen_embedded_model_begin[];
extern "C" const uint8_t textgen_embedded_model_end[];

namespace textgen {

absl::Span<const uint8_t> EmbeddedModelBytes() {
  return absl::MakeConstSpan(textgen_embedded_model_begin, textgen_embedded_model_end);
}

}  // namespace textgen
