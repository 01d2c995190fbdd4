// textgen-convert: writes models as GGUF files that textgen-server loads,
// and lists the contents of GGUF files.

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/util/logging.h"
#include "engine/util/status_macros.h"
#include "tools/convert/gguf_inspect.h"
#include "tools/convert/gguf_tensor_layout.h"
#include "tools/convert/hf_import.h"
#include "tools/convert/llama2c_import.h"
#include "tools/convert/random_model.h"

ABSL_FLAG(std::string, llama2c, "", "llama2.c legacy checkpoint (.bin) to convert.");
ABSL_FLAG(std::string, tokenizer, "", "llama2.c tokenizer file for --llama2c.");
ABSL_FLAG(std::string, hf, "",
          "Hugging Face GPT-2 or Llama model folder (config.json, *.safetensors, tokenizer) to "
          "convert.");
ABSL_FLAG(std::string, random, "",
          "Write random weights of a named shape: gpt2-124m, gpt2-355m, gpt2-tiny, llama-110m, "
          "llama-15m or llama-tiny.");
ABSL_FLAG(std::string, vocab, "",
          "GGUF file whose tokenizer.* keys a GPT-2 --random shape copies, such as "
          "ggml-vocab-gpt-2.gguf.");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the random weights for --random.");
ABSL_FLAG(std::string, inspect, "", "GGUF file to describe: metadata and tensors.");
ABSL_FLAG(std::string, output, "", "GGUF file to write.");
ABSL_FLAG(std::string, type, "f32",
          "Type of the weight matrices in the output: f32, f16 or bf16. Norms and biases stay "
          "f32.");

namespace textgen {
namespace {

constexpr char kUsage[] =
    "Writes models as GGUF files for textgen-server, or describes a GGUF file.\n"
    "Usage:\n"
    "  textgen-convert --llama2c MODEL.bin --tokenizer TOK.bin --output OUT.gguf [--type T]\n"
    "  textgen-convert --hf FOLDER --output OUT.gguf [--type T]\n"
    "  textgen-convert --random SHAPE --output OUT.gguf [--type T] [--seed N] [--vocab V.gguf]\n"
    "  textgen-convert --inspect FILE.gguf\n"
    "T is f32 (default), f16 or bf16.";

// Returns which one of --llama2c, --hf, --random and --inspect is set.
absl::StatusOr<std::string> ChooseMode() {
  std::vector<std::string> modes;
  if (!absl::GetFlag(FLAGS_llama2c).empty()) modes.push_back("--llama2c");
  if (!absl::GetFlag(FLAGS_hf).empty()) modes.push_back("--hf");
  if (!absl::GetFlag(FLAGS_random).empty()) modes.push_back("--random");
  if (!absl::GetFlag(FLAGS_inspect).empty()) modes.push_back("--inspect");
  if (modes.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        modes.empty() ? "no input given" : absl::StrCat(absl::StrJoin(modes, ", "), " given"),
        ", expected exactly one of --llama2c, --hf, --random and --inspect"));
  }
  return modes[0];
}

absl::Status Inspect() {
  ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(absl::GetFlag(FLAGS_inspect)));
  std::cout << DescribeGgufFile(file);
  return absl::OkStatus();
}

absl::StatusOr<GgufWriter> BuildModel(const std::string& mode, GgufTensorType matrix_type) {
  if (mode == "--llama2c") {
    if (absl::GetFlag(FLAGS_tokenizer).empty()) {
      return absl::InvalidArgumentError(
          "--llama2c needs --tokenizer: llama2.c checkpoints carry no vocabulary");
    }
    return ImportLlama2c(absl::GetFlag(FLAGS_llama2c), absl::GetFlag(FLAGS_tokenizer),
                         matrix_type);
  }
  if (mode == "--hf") return ImportHfFolder(absl::GetFlag(FLAGS_hf), matrix_type);

  RandomModelOptions options;
  options.shape = absl::GetFlag(FLAGS_random);
  options.matrix_type = matrix_type;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.vocab_path = absl::GetFlag(FLAGS_vocab);
  return BuildRandomModel(options);
}

absl::Status Convert(const std::string& mode) {
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) return absl::InvalidArgumentError("--output is required: the GGUF file to write");
  absl::StatusOr<GgufTensorType> matrix_type = ParseTensorType(absl::GetFlag(FLAGS_type));
  if (!matrix_type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--type: ", matrix_type.status().message()));
  }

  // NOTE: GgufWriter keeps every encoded tensor in memory until WriteFile,
  // so peak memory is about the output file's size plus the largest tensor
  // in f32.
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(GgufWriter writer, BuildModel(mode, *matrix_type));
  const absl::Time built = absl::Now();
  RETURN_IF_ERROR(writer.WriteFile(output));
  const absl::Time written = absl::Now();

  ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(output));
  uint64_t parameters = 0;
  for (const GgufTensorInfo& tensor : file.tensors()) parameters += tensor.element_count;
  LogInfo(absl::StrFormat(
      "wrote %s: %d tensors, %d parameters, matrices as %s; built in %.2f s, written in %.2f s",
      output, file.tensors().size(), parameters, absl::GetFlag(FLAGS_type),
      absl::ToDoubleSeconds(built - start), absl::ToDoubleSeconds(written - built)));
  return absl::OkStatus();
}

int Run() {
  absl::StatusOr<std::string> mode = ChooseMode();
  if (!mode.ok()) {
    LogError(absl::StrCat(mode.status().message(), "\n", kUsage));
    return 2;
  }
  absl::Status status = *mode == "--inspect" ? Inspect() : Convert(*mode);
  if (!status.ok()) {
    LogError(status.message());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace textgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(textgen::kUsage);
  std::vector<std::string> arguments = textgen::NormalizeFlagNames(argc, argv);
  std::vector<char*> pointers = textgen::ArgvPointers(arguments);
  absl::ParseCommandLine(static_cast<int>(arguments.size()), pointers.data());
  return textgen::Run();
}
