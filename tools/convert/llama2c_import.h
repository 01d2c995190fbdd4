#ifndef TEXTGEN_TOOLS_CONVERT_LLAMA2C_IMPORT_H_
#define TEXTGEN_TOOLS_CONVERT_LLAMA2C_IMPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/tokenizer/sentencepiece_bpe.h"
#include "tools/convert/tokenizer_metadata.h"

namespace textgen {

// Converts llama2.c's tokenizer pieces to the "llama" GGUF vocabulary that
// llama.cpp writes for the same model. Spaces become U+2581 as in
// SentencePiece, and BOS (id 1) and EOS (id 2) lose the newlines around
// "<s>" and "</s>". Token types mark id 0 as unknown, BOS and EOS as
// control, "<0xNN>" pieces as byte and the rest as normal.
TokenizerMetadata Llama2cTokenizerMetadata(const SentencePieceVocabulary& vocabulary);

// Builds a GGUF file of architecture "llama" from a llama2.c legacy
// checkpoint and its tokenizer file. Weight matrices are stored as
// `matrix_type`, norms as F32. llama2.c already stores q and k in the
// adjacent-pair rotary layout the engine uses, so tensors are copied
// unchanged. output.weight is written only for a checkpoint with a separate
// classifier. general.name is the checkpoint's file name without extension.
absl::StatusOr<GgufWriter> ImportLlama2c(const std::string& checkpoint_path,
                                         const std::string& tokenizer_path,
                                         GgufTensorType matrix_type);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_LLAMA2C_IMPORT_H_
