#ifndef TEXTGEN_SERVER_REQUEST_VALIDATION_H_
#define TEXTGEN_SERVER_REQUEST_VALIDATION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "engine/generate/generator.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "textgen/v1/textgen.pb.h"

namespace textgen {

// The facts about the served model and the server that validation needs.
struct ValidationContext {
  const Tokenizer* tokenizer = nullptr;
  const ModelDescription* model = nullptr;
  bool add_bos = true;                 // text prompts start with BOS
  int32_t default_max_new_tokens = 0;  // used when the request sets 0
};

// Checks every field of `request` and turns it into an engine request. A bad
// field gives INVALID_ARGUMENT whose message names the field, its value and
// the allowed range. An unset seed is replaced by a fresh random one.
absl::StatusOr<GenerationRequest> ValidateGenerateRequest(const v1::GenerateRequest& request,
                                                          const ValidationContext& context);

}  // namespace textgen

#endif  // TEXTGEN_SERVER_REQUEST_VALIDATION_H_
