// textgen-client: a command-line client for the textgen.v1.TextGeneration
// service. It streams generated text to stdout as the server sends it, or
// prints each response message as a line of proto3 JSON with --json.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "textgen/v1/textgen.grpc.pb.h"
#include "textgen/v1/textgen.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051",
          "Address of the textgen server, as HOST:PORT.");
ABSL_FLAG(uint32_t, max_new_tokens, 0,
          "Maximum number of tokens to generate; 0 uses the server's default.");
ABSL_FLAG(float, temperature, 0,
          "Sampling temperature; 0 selects greedy decoding.");
ABSL_FLAG(int32_t, top_k, 0,
          "Sample only from the K most likely tokens; 0 turns top-k off.");
ABSL_FLAG(float, top_p, 0,
          "Sample only from the smallest set of tokens whose probability mass "
          "reaches P; 0 or 1 turns top-p off.");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "Seed of the request's random generator; when unset, the server "
          "picks one and the summary line shows it.");
ABSL_FLAG(float, min_p, 0,
          "Sample only from tokens whose probability is at least P times that "
          "of the most likely token; 0 turns min-p off.");
ABSL_FLAG(float, repetition_penalty, 0,
          "Divide the positive logits of tokens that occur in the penalty "
          "window by this value and multiply their negative logits by it; 0 "
          "or 1 turns it off.");
ABSL_FLAG(float, presence_penalty, 0,
          "Subtract this value from the logit of every token that occurs in "
          "the penalty window; negative values favour repeats.");
ABSL_FLAG(float, frequency_penalty, 0,
          "Subtract this value times the number of occurrences in the penalty "
          "window from a token's logit.");
ABSL_FLAG(uint32_t, penalty_window, 0,
          "Number of most recent tokens, prompt and generated, that the "
          "penalties count; 0 counts them all.");
// Collected by TakeRepeatedFlags, like --stop.
ABSL_FLAG(std::string, logit_bias, "",
          "TOKEN_ID=BIAS: add BIAS, from -100 to 100, to the token's logit. "
          "Repeat the flag for several tokens.");
ABSL_FLAG(bool, logprobs, false,
          "Ask for each generated token's log-probability, which --json "
          "prints.");
ABSL_FLAG(uint32_t, top_logprobs, 0,
          "Also ask for the N most likely tokens at each step, at most 20; "
          "implies --logprobs.");
ABSL_FLAG(bool, ignore_eos, false,
          "Keep generating past the end-of-sequence token.");
// --stop and --stop-token-id may be repeated. absl keeps only the last value
// of a flag, so TakeRepeatedFlags collects their values before absl parses
// the command line, and these definitions only name them for --help.
ABSL_FLAG(std::string, stop, "",
          "Stop string: generation ends before its first occurrence in the "
          "generated text. Repeat the flag for several stop strings.");
ABSL_FLAG(std::string, stop_token_id, "",
          "Token id that ends generation; the token is not printed. Repeat "
          "the flag for several ids.");
ABSL_FLAG(uint32_t, min_new_tokens, 0,
          "Ignore the end-of-sequence token, stop token ids and stop strings "
          "until this many tokens are generated.");
ABSL_FLAG(bool, include_stop_in_output, false,
          "Print the matched stop string at the end of the text.");
ABSL_FLAG(bool, add_special_tokens, false,
          "With 'tokenize': start with the BOS token when the model adds it "
          "to prompts.");
ABSL_FLAG(bool, json, false,
          "Print each response message as one line of proto3 JSON, and "
          "nothing else, on stdout.");
ABSL_FLAG(std::string, request_id, "",
          "Request id that the server echoes in the Completion and its logs.");
ABSL_FLAG(double, timeout, 0,
          "Deadline of the call in seconds; 0 means no deadline.");

namespace {

using textgen::v1::GenerateRequest;
using textgen::v1::GenerateResponse;
using textgen::v1::TextGeneration;
using Clock = std::chrono::steady_clock;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// Shells report a process ended by SIGINT (signal 2) with status 128 + 2.
constexpr int kExitInterrupted = 130;

// About 31 years, far beyond any useful deadline. Adding it to the current
// time cannot overflow std::chrono::system_clock, whose int64 nanosecond count
// in libstdc++ lasts until the year 2262.
constexpr int64_t kMaxTimeoutSeconds = 1'000'000'000;

constexpr char kUsage[] =
    "Generates text with a textgen server and streams it to stdout.\n"
    "\n"
    "Usage:\n"
    "  textgen-client [flags] PROMPT...\n"
    "  textgen-client [flags] info\n"
    "  textgen-client [flags] health\n"
    "  textgen-client [flags] tokenize TEXT...\n"
    "  textgen-client [flags] detokenize ID...\n"
    "\n"
    "The prompt is the positional arguments joined by spaces. A summary line\n"
    "with the finish reason, token counts, seed and timings goes to stderr.\n"
    "The single argument 'info' prints the served model's details instead.\n"
    "The single argument 'health' asks the standard gRPC health service and\n"
    "exits 0 when the server reports SERVING, 1 otherwise.\n"
    "'tokenize' prints the token ids of the remaining arguments joined by\n"
    "spaces, one line per token with its bytes as a C-escaped string.\n"
    "'detokenize' prints the text of the token ids that follow it.\n"
    "Flag names may use '-' or '_' between words, as in --max-new-tokens.\n"
    "\n"
    "Exit status: 0 on success; 1 when parsing the flags, the call or the\n"
    "output fails; 2 when the prompt, the text or the ids are missing, a\n"
    "token id is not a number, or --timeout or --addr is invalid; 130 when\n"
    "Ctrl-C interrupts the call.";

// ---------------------------------------------------------------------------
// Command line

// Returns the spelling of flag name `name` that absl::ParseCommandLine
// accepts, or nullopt when no defined flag has that name. `name` comes without
// leading dashes or value, and a dash in it counts as an underscore, so
// "no-ignore-eos" becomes "noignore_eos". Sets `*is_bool` for a bool flag.
std::optional<std::string> ToAbslFlagName(absl::string_view name,
                                          bool* is_bool) {
  std::string underscored = absl::StrReplaceAll(name, {{"-", "_"}});
  if (const absl::CommandLineFlag* flag =
          absl::FindCommandLineFlag(underscored)) {
    *is_bool = flag->IsOfType<bool>();
    return underscored;
  }

  absl::string_view negated = underscored;
  if (!absl::ConsumePrefix(&negated, "no")) return std::nullopt;
  absl::ConsumePrefix(&negated, "_");
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(negated);
  if (flag == nullptr || !flag->IsOfType<bool>()) return std::nullopt;
  *is_bool = true;
  return absl::StrCat("no", negated);
}

// Rewrites flag names in the spelling that absl accepts, because absl flag
// names are C++ identifiers and absl::ParseCommandLine of Abseil 20220623
// rejects dashed names such as --max-new-tokens. Only names of defined flags
// are rewritten. Arguments after "--" and the separate value of a non-bool
// flag (the "-a-b" of "--request-id -a-b") are kept as they are.
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> arguments(argv, argv + argc);
  bool next_is_value = false;
  for (size_t i = 1; i < arguments.size(); ++i) {
    std::string& argument = arguments[i];
    if (next_is_value) {
      next_is_value = false;
      continue;
    }
    if (argument == "--") break;
    if (argument.size() < 2 || argument[0] != '-') continue;

    const size_t name_begin = argument[1] == '-' ? 2 : 1;
    const size_t equals = argument.find('=', name_begin);
    const size_t name_end =
        equals == std::string::npos ? argument.size() : equals;
    bool is_bool = false;
    const std::optional<std::string> name = ToAbslFlagName(
        absl::string_view(argument).substr(name_begin, name_end - name_begin),
        &is_bool);
    if (!name.has_value()) continue;

    argument.replace(name_begin, name_end - name_begin, *name);
    next_is_value = equals == std::string::npos && !is_bool;
  }
  return arguments;
}

// Makes --help and --helpshort list the flags of this file, which absl
// otherwise skips because the file name differs from the program name.
void ConfigureUsage() {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  const auto is_this_file = [](absl::string_view filename) {
    return absl::EndsWith(filename, "textgen_client.cc");
  };
  config.contains_help_flags = is_this_file;
  config.contains_helpshort_flags = is_this_file;
  config.version_string = [] { return std::string("textgen-client " TEXTGEN_VERSION "\n"); };
  absl::SetFlagsUsageConfig(config);
}

// The values of the flags that may be repeated, in command-line order.
struct RepeatedFlagValues {
  std::vector<std::string> stop;
  std::vector<std::string> stop_token_id;
  std::vector<int32_t> stop_token_ids;  // stop_token_id parsed by ValidateFlags
  std::vector<std::string> logit_bias;
  std::vector<std::pair<int32_t, float>> logit_biases;  // logit_bias parsed by ValidateFlags
};

RepeatedFlagValues& RepeatedFlags() {
  static RepeatedFlagValues* const values = new RepeatedFlagValues();
  return *values;
}

// Removes every repeatable flag (--stop, --stop_token_id, --logit_bias),
// with its value, from `arguments` (flag names spelled as NormalizeFlagNames
// returns them) and stores the values in RepeatedFlags(). Returns an error
// message when a value is missing, or an empty string.
std::string TakeRepeatedFlags(std::vector<std::string>& arguments) {
  std::vector<std::string> remaining = {arguments[0]};
  for (size_t i = 1; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--") {
      remaining.insert(remaining.end(), arguments.begin() + i, arguments.end());
      break;
    }
    if (argument.size() < 2 || argument[0] != '-') {
      remaining.push_back(argument);
      continue;
    }

    absl::string_view name = argument;
    absl::ConsumePrefix(&name, "-");
    absl::ConsumePrefix(&name, "-");
    std::optional<std::string> value;
    if (const size_t equals = name.find('='); equals != absl::string_view::npos) {
      value = std::string(name.substr(equals + 1));
      name = name.substr(0, equals);
    }
    std::vector<std::string>* values = nullptr;
    if (name == "stop") values = &RepeatedFlags().stop;
    if (name == "stop_token_id") values = &RepeatedFlags().stop_token_id;
    if (name == "logit_bias") values = &RepeatedFlags().logit_bias;
    if (values == nullptr) {
      remaining.push_back(argument);
      // The separate value of another non-bool flag is not a flag itself.
      const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
      if (!value.has_value() && flag != nullptr && !flag->IsOfType<bool>() &&
          i + 1 < arguments.size()) {
        remaining.push_back(arguments[++i]);
      }
      continue;
    }

    if (!value.has_value()) {
      if (i + 1 == arguments.size()) {
        return absl::StrCat("missing value for --",
                            absl::StrReplaceAll(name, {{"_", "-"}}));
      }
      value = arguments[++i];
    }
    values->push_back(*value);
  }
  arguments = std::move(remaining);
  return "";
}

// Parses the flags and returns the positional arguments. absl exits with
// status 1 after printing the error for an unknown flag or malformed value;
// a repeatable flag without a value exits with status 2.
std::vector<std::string> ParseArguments(int argc, char** argv) {
  ConfigureUsage();
  std::vector<std::string> normalized = NormalizeFlagNames(argc, argv);
  if (const std::string error = TakeRepeatedFlags(normalized); !error.empty()) {
    std::fprintf(stderr, "textgen-client: %s\n", error.c_str());
    std::exit(kExitUsage);
  }
  std::vector<char*> normalized_argv;
  normalized_argv.reserve(normalized.size());
  for (std::string& argument : normalized) {
    normalized_argv.push_back(argument.data());
  }
  std::vector<char*> remaining = absl::ParseCommandLine(
      static_cast<int>(normalized_argv.size()), normalized_argv.data());
  // The first remaining argument is the program name.
  return std::vector<std::string>(remaining.begin() + 1, remaining.end());
}

void PrintUsage() {
  std::fprintf(stderr, "%s\n\nRun 'textgen-client --help' to list the flags.\n",
               kUsage);
}

// Parses each of `texts` as a token id into `ids`. Returns an error message
// naming `what` and the first text that is not a whole number in the int32
// range, or an empty string.
std::string ParseTokenIds(const std::vector<std::string>& texts,
                          absl::string_view what, std::vector<int32_t>* ids) {
  for (const std::string& text : texts) {
    int32_t id = 0;
    if (!absl::SimpleAtoi(text, &id)) {
      return absl::StrCat("invalid ", what, " '", text,
                          "': expected a token id, a whole number");
    }
    ids->push_back(id);
  }
  return "";
}

// Parses each of `texts`, written TOKEN_ID=BIAS, into `biases`. Returns an
// error message naming the first text of another form, or an empty string.
// The server checks the ranges.
std::string ParseLogitBiases(const std::vector<std::string>& texts,
                             std::vector<std::pair<int32_t, float>>* biases) {
  for (const std::string& text : texts) {
    const size_t equals = text.find('=');
    int32_t id = 0;
    float bias = 0;
    if (equals == std::string::npos ||
        !absl::SimpleAtoi(absl::string_view(text).substr(0, equals), &id) ||
        !absl::SimpleAtof(absl::string_view(text).substr(equals + 1), &bias)) {
      return absl::StrCat("invalid --logit-bias '", text,
                          "': expected TOKEN_ID=BIAS, such as 50256=-100");
    }
    biases->emplace_back(id, bias);
  }
  return "";
}

// Returns an error message for an invalid --timeout, --addr,
// --stop-token-id or --logit-bias, or an empty string when all are valid.
// The server validates the sampling and stopping values.
std::string ValidateFlags() {
  if (std::string error =
          ParseTokenIds(RepeatedFlags().stop_token_id, "--stop-token-id",
                        &RepeatedFlags().stop_token_ids);
      !error.empty()) {
    return error;
  }
  if (std::string error = ParseLogitBiases(RepeatedFlags().logit_bias,
                                           &RepeatedFlags().logit_biases);
      !error.empty()) {
    return error;
  }
  const double timeout = absl::GetFlag(FLAGS_timeout);
  if (!std::isfinite(timeout) || timeout < 0 || timeout > kMaxTimeoutSeconds) {
    return absl::StrCat("invalid --timeout=", timeout,
                        ": expected seconds from 0 (no deadline) to ",
                        kMaxTimeoutSeconds);
  }
  const std::string addr = absl::GetFlag(FLAGS_addr);
  if (addr.empty()) {
    return "invalid --addr: expected HOST:PORT, got an empty string";
  }
  // gRPC target URIs such as unix:/path or dns:///host:port pass unchanged.
  if (absl::StartsWith(addr, "unix:") || absl::StrContains(addr, "://")) return "";
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(addr).substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::StrCat("invalid --addr=", addr,
                        ": expected HOST:PORT with a port from 1 to 65535, such as "
                        "127.0.0.1:50051 or [::1]:50051");
  }
  return "";
}

// ---------------------------------------------------------------------------
// Calls

std::unique_ptr<TextGeneration::Stub> CreateStub() {
  // The default (wait_for_ready off) makes a call fail with UNAVAILABLE as
  // soon as connecting fails, instead of waiting for the server to appear.
  // NOTE: A host that accepts the TCP connection but never sends the HTTP/2
  // SETTINGS frame makes the call fail only after gRPC's connect timeout
  // (measured 20 s with gRPC 1.51), unless --timeout is shorter.
  return TextGeneration::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_addr), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext* context) {
  const double timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout == 0) return;
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(timeout)));
}

GenerateRequest BuildGenerateRequest(const std::string& prompt) {
  GenerateRequest request;
  request.set_prompt(prompt);
  request.set_request_id(absl::GetFlag(FLAGS_request_id));

  textgen::v1::SamplingParams* sampling = request.mutable_sampling();
  sampling->set_temperature(absl::GetFlag(FLAGS_temperature));
  sampling->set_top_k(absl::GetFlag(FLAGS_top_k));
  sampling->set_top_p(absl::GetFlag(FLAGS_top_p));
  if (const std::optional<uint64_t> seed = absl::GetFlag(FLAGS_seed)) {
    sampling->set_seed(*seed);
  }
  sampling->set_min_p(absl::GetFlag(FLAGS_min_p));
  sampling->set_repetition_penalty(absl::GetFlag(FLAGS_repetition_penalty));
  sampling->set_presence_penalty(absl::GetFlag(FLAGS_presence_penalty));
  sampling->set_frequency_penalty(absl::GetFlag(FLAGS_frequency_penalty));
  sampling->set_penalty_window(absl::GetFlag(FLAGS_penalty_window));
  // A later --logit-bias for the same token replaces an earlier one.
  for (const auto& [id, bias] : RepeatedFlags().logit_biases) {
    (*sampling->mutable_logit_bias())[id] = bias;
  }
  const uint32_t top_logprobs = absl::GetFlag(FLAGS_top_logprobs);
  sampling->set_logprobs(absl::GetFlag(FLAGS_logprobs) || top_logprobs > 0);
  sampling->set_top_logprobs(top_logprobs);

  textgen::v1::StoppingCriteria* stopping = request.mutable_stopping();
  stopping->set_max_new_tokens(absl::GetFlag(FLAGS_max_new_tokens));
  stopping->set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  for (const std::string& stop : RepeatedFlags().stop) stopping->add_stop(stop);
  for (int32_t id : RepeatedFlags().stop_token_ids) stopping->add_stop_token_ids(id);
  stopping->set_min_new_tokens(absl::GetFlag(FLAGS_min_new_tokens));
  stopping->set_include_stop_in_output(absl::GetFlag(FLAGS_include_stop_in_output));
  return request;
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("status code ", static_cast<int>(code));
  }
}

// Prints the failed status of `method` and, for UNAVAILABLE and
// DEADLINE_EXCEEDED, what to try next.
void ReportRpcFailure(std::string_view method, const grpc::Status& status) {
  std::fprintf(stderr, "textgen-client: %.*s failed: %s: %s\n",
               static_cast<int>(method.size()), method.data(),
               StatusCodeName(status.error_code()).c_str(),
               status.error_message().c_str());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr,
                 "textgen-client: check that a textgen server is running at "
                 "%s, or pass --addr HOST:PORT\n",
                 absl::GetFlag(FLAGS_addr).c_str());
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr,
                 "textgen-client: the call did not finish within "
                 "--timeout=%g seconds; pass a larger value, or 0 for no "
                 "deadline\n",
                 absl::GetFlag(FLAGS_timeout));
  }
}

// ---------------------------------------------------------------------------
// Output

// Writes `data` to stdout and flushes it. Returns false when either fails.
bool WriteToStdout(std::string_view data) {
  const size_t written = std::fwrite(data.data(), 1, data.size(), stdout);
  return std::fflush(stdout) == 0 && written == data.size();
}

// Converts `message` to one line of the proto3 JSON mapping with the field
// names of the .proto file, or returns an empty optional on failure.
std::optional<std::string> ToJsonLine(
    const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return std::nullopt;
  }
  json += '\n';
  return json;
}

// Writes each GenerateResponse to stdout as it arrives, as the chunk text in
// text mode or as one JSON line per message with --json.
class ResponseWriter {
 public:
  explicit ResponseWriter(bool json) : json_(json) {}

  // Returns false and stores the reason in error() when writing fails.
  bool Write(const GenerateResponse& response) {
    if (json_) {
      const std::optional<std::string> line = ToJsonLine(response);
      if (!line.has_value()) {
        error_ = "converting a response to JSON failed";
        return false;
      }
      return WriteOrRecordError(*line);
    }
    if (!response.has_chunk() || response.chunk().text().empty()) return true;
    const std::string& text = response.chunk().text();
    text_ends_line_ = text.back() == '\n';
    return WriteOrRecordError(text);
  }

  // Ends the last line of text in text mode, so that a shell prompt or an
  // error message does not continue it.
  void EndText() {
    if (!json_ && !text_ends_line_) WriteOrRecordError("\n");
    text_ends_line_ = true;
  }

  const std::string& error() const { return error_; }

 private:
  bool WriteOrRecordError(std::string_view data) {
    if (WriteToStdout(data)) return true;
    if (error_.empty()) {
      error_ = absl::StrCat("writing to stdout failed: ", std::strerror(errno));
    }
    return false;
  }

  const bool json_;
  // Whether the text written so far is empty or ends with a newline.
  bool text_ends_line_ = true;
  std::string error_;
};

// ---------------------------------------------------------------------------
// Ctrl-C

// Write end of the pipe through which the SIGINT handler wakes the watcher
// thread, or -1 while no watcher runs.
std::atomic<int> interrupt_pipe_write_fd{-1};

constexpr char kInterruptByte = 'i';
constexpr char kStopByte = 's';

void HandleSigint(int /*signal*/) {
  // Only async-signal-safe calls here. A full pipe already contains a byte that
  // wakes the watcher, so a failed write loses nothing.
  const int saved_errno = errno;
  const int fd = interrupt_pipe_write_fd.load();
  if (fd >= 0) {
    const ssize_t ignored = write(fd, &kInterruptByte, 1);
    static_cast<void>(ignored);
  }
  errno = saved_errno;
}

// Cancels a call when the user presses Ctrl-C, while the watcher exists.
//
// The SIGINT handler only writes a byte to a pipe, and a thread reading that
// pipe calls ClientContext::TryCancel, which is not async-signal-safe. The
// handler is installed with SA_RESETHAND, so a second Ctrl-C ends the process
// at once if the call does not stop.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(grpc::ClientContext* context) : context_(context) {
    // A shell starts background jobs with SIGINT ignored, and Ctrl-C meant
    // for the foreground job must not cancel them.
    sigaction(SIGINT, nullptr, &previous_action_);
    if (previous_action_.sa_handler == SIG_IGN) return;

    if (pipe2(pipe_fds_, O_CLOEXEC) != 0) {
      std::fprintf(stderr,
                   "textgen-client: creating the Ctrl-C pipe failed: %s; "
                   "Ctrl-C will end the process without cancelling the call\n",
                   std::strerror(errno));
      pipe_fds_[0] = pipe_fds_[1] = -1;
      return;
    }
    // O_NONBLOCK keeps the handler from blocking on a full pipe.
    fcntl(pipe_fds_[1], F_SETFL, O_NONBLOCK);
    interrupt_pipe_write_fd.store(pipe_fds_[1]);

    struct sigaction action = {};
    action.sa_handler = HandleSigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    thread_ = std::thread(&InterruptWatcher::Watch, this);
  }

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  ~InterruptWatcher() {
    if (pipe_fds_[0] < 0) return;
    sigaction(SIGINT, &previous_action_, nullptr);
    interrupt_pipe_write_fd.store(-1);
    const ssize_t ignored = write(pipe_fds_[1], &kStopByte, 1);
    static_cast<void>(ignored);
    thread_.join();
    close(pipe_fds_[0]);
    close(pipe_fds_[1]);
  }

  bool interrupted() const { return interrupted_.load(); }

 private:
  void Watch() {
    char byte = 0;
    while (true) {
      const ssize_t count = read(pipe_fds_[0], &byte, 1);
      if (count < 0 && errno == EINTR) continue;
      // Anything but the interrupt byte, including a read error, ends the
      // watch.
      if (count != 1 || byte != kInterruptByte) return;
      interrupted_.store(true);
      context_->TryCancel();
      return;
    }
  }

  grpc::ClientContext* const context_;
  int pipe_fds_[2] = {-1, -1};
  struct sigaction previous_action_ = {};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Generate

struct StreamResult {
  grpc::Status status;
  // The last Completion received, if any.
  std::optional<textgen::v1::Completion> completion;
  // From starting the call to the first chunk with token ids.
  std::optional<Clock::duration> time_to_first_token;
  // From starting the call to the end of the stream.
  Clock::duration total_time{};
};

// Runs the Generate call and writes each response as it arrives. When writing
// fails, cancels the call and drains the stream.
StreamResult StreamResponses(TextGeneration::Stub& stub,
                             const GenerateRequest& request,
                             grpc::ClientContext* context,
                             ResponseWriter* writer) {
  StreamResult result;
  const Clock::time_point start = Clock::now();
  std::unique_ptr<grpc::ClientReader<GenerateResponse>> reader =
      stub.Generate(context, request);

  bool output_failed = false;
  GenerateResponse response;
  while (reader->Read(&response)) {
    if (!result.time_to_first_token.has_value() && response.has_chunk() &&
        response.chunk().token_ids_size() > 0) {
      result.time_to_first_token = Clock::now() - start;
    }
    if (response.has_complete()) result.completion = response.complete();
    if (output_failed) continue;
    if (!writer->Write(response)) {
      output_failed = true;
      context->TryCancel();
    }
  }

  result.status = reader->Finish();
  result.total_time = Clock::now() - start;
  return result;
}

double ToMilliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

// Prints the Completion and client-side timings as one line on stderr.
void PrintSummary(const textgen::v1::Completion& completion,
                  const StreamResult& result) {
  char time_to_first_token[32] = "none";
  if (result.time_to_first_token.has_value()) {
    std::snprintf(time_to_first_token, sizeof(time_to_first_token), "%.1f",
                  ToMilliseconds(*result.time_to_first_token));
  }
  const double total_seconds =
      std::chrono::duration<double>(result.total_time).count();
  const double tokens_per_second =
      total_seconds > 0 ? completion.generated_tokens() / total_seconds : 0;
  std::string request_id;
  if (!completion.request_id().empty()) {
    request_id = absl::StrCat(" request_id=", completion.request_id());
  }
  std::string matched_stop;
  if (!completion.matched_stop().empty()) {
    matched_stop = absl::StrCat(" matched_stop=\"", absl::CEscape(completion.matched_stop()), "\"");
  }
  if (completion.has_matched_stop_token_id()) {
    absl::StrAppend(&matched_stop, " matched_stop_token_id=", completion.matched_stop_token_id());
  }

  std::fprintf(
      stderr,
      "finish_reason=%s prompt_tokens=%u generated_tokens=%u "
      "seed=%llu time_to_first_token_ms=%s total_ms=%.1f "
      "tokens_per_second=%.1f%s%s\n",
      textgen::v1::FinishReason_Name(completion.finish_reason()).c_str(),
      completion.prompt_tokens(), completion.generated_tokens(),
      static_cast<unsigned long long>(completion.seed()), time_to_first_token,
      ToMilliseconds(result.total_time), tokens_per_second, request_id.c_str(),
      matched_stop.c_str());
}

// Reports how the stream ended and returns the exit status.
int ReportStreamResult(const StreamResult& result, const ResponseWriter& writer,
                       bool interrupted) {
  if (interrupted) {
    std::fprintf(
        stderr,
        "textgen-client: Generate cancelled because of SIGINT (Ctrl-C)\n");
    return kExitInterrupted;
  }
  if (!writer.error().empty()) {
    std::fprintf(stderr, "textgen-client: %s\n", writer.error().c_str());
    return kExitFailure;
  }
  if (!result.status.ok()) {
    ReportRpcFailure("Generate", result.status);
    return kExitFailure;
  }
  if (!result.completion.has_value()) {
    std::fprintf(stderr,
                 "textgen-client: Generate failed: the stream ended without "
                 "a Completion message\n");
    return kExitFailure;
  }
  PrintSummary(*result.completion, result);
  return 0;
}

int RunGenerate(const std::string& prompt) {
  std::unique_ptr<TextGeneration::Stub> stub = CreateStub();
  const GenerateRequest request = BuildGenerateRequest(prompt);
  grpc::ClientContext context;
  SetDeadline(&context);
  ResponseWriter writer(absl::GetFlag(FLAGS_json));

  InterruptWatcher watcher(&context);
  const StreamResult result =
      StreamResponses(*stub, request, &context, &writer);
  writer.EndText();
  return ReportStreamResult(result, writer, watcher.interrupted());
}

// ---------------------------------------------------------------------------
// Info

void PrintModelInfoText(const textgen::v1::ModelInfo& info) {
  std::printf(
      "name: %s\n"
      "architecture: %s\n"
      "context_length: %u\n"
      "vocab_size: %u\n"
      "parameter_count: %llu\n"
      "weight_type: %s\n",
      info.name().c_str(), info.architecture().c_str(), info.context_length(),
      info.vocab_size(),
      static_cast<unsigned long long>(info.parameter_count()),
      info.weight_type().c_str());
}

int RunInfo() {
  std::unique_ptr<TextGeneration::Stub> stub = CreateStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  textgen::v1::ModelInfo info;
  const grpc::Status status =
      stub->GetModelInfo(&context, textgen::v1::GetModelInfoRequest(), &info);
  if (!status.ok()) {
    ReportRpcFailure("GetModelInfo", status);
    return kExitFailure;
  }

  if (!absl::GetFlag(FLAGS_json)) {
    PrintModelInfoText(info);
  } else {
    const std::optional<std::string> line = ToJsonLine(info);
    if (!line.has_value()) {
      std::fprintf(stderr,
                   "textgen-client: converting the ModelInfo to JSON failed\n");
      return kExitFailure;
    }
    std::fputs(line->c_str(), stdout);
  }
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "textgen-client: writing to stdout failed: %s\n",
                 std::strerror(errno));
    return kExitFailure;
  }
  return 0;
}

// Asks the grpc.health.v1 service for the server's overall status.
int RunHealth() {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_addr), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status =
      stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  if (!status.ok()) {
    ReportRpcFailure("Health.Check", status);
    return kExitFailure;
  }
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::printf("%s\n", name.c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : kExitFailure;
}

// ---------------------------------------------------------------------------
// Tokenize and Detokenize

// Prints `message` as one JSON line on stdout. Returns the exit status.
int PrintJsonLine(const google::protobuf::Message& message) {
  const std::optional<std::string> line = ToJsonLine(message);
  if (!line.has_value()) {
    std::fprintf(stderr, "textgen-client: converting the %s to JSON failed\n",
                 message.GetTypeName().c_str());
    return kExitFailure;
  }
  return WriteToStdout(*line) ? 0 : kExitFailure;
}

int RunTokenize(const std::string& text) {
  std::unique_ptr<TextGeneration::Stub> stub = CreateStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  textgen::v1::TokenizeRequest request;
  request.set_text(text);
  request.set_add_special_tokens(absl::GetFlag(FLAGS_add_special_tokens));
  textgen::v1::TokenizeResponse response;
  const grpc::Status status = stub->Tokenize(&context, request, &response);
  if (!status.ok()) {
    ReportRpcFailure("Tokenize", status);
    return kExitFailure;
  }

  if (absl::GetFlag(FLAGS_json)) return PrintJsonLine(response);
  // One line per token: the id, a tab and the piece as a C-escaped string,
  // because a piece may hold control characters or part of a character.
  std::string lines;
  for (int i = 0; i < response.token_ids_size(); ++i) {
    const std::string piece = i < response.pieces_size() ? response.pieces(i) : "";
    absl::StrAppend(&lines, response.token_ids(i), "\t\"", absl::CEscape(piece),
                    "\"\n");
  }
  return WriteToStdout(lines) ? 0 : kExitFailure;
}

int RunDetokenize(const std::vector<std::string>& id_texts) {
  textgen::v1::DetokenizeRequest request;
  std::vector<int32_t> ids;
  if (const std::string error = ParseTokenIds(id_texts, "token id", &ids);
      !error.empty()) {
    std::fprintf(stderr, "textgen-client: %s\n", error.c_str());
    return kExitUsage;
  }
  for (int32_t id : ids) request.add_token_ids(id);

  std::unique_ptr<TextGeneration::Stub> stub = CreateStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  textgen::v1::DetokenizeResponse response;
  const grpc::Status status = stub->Detokenize(&context, request, &response);
  if (!status.ok()) {
    ReportRpcFailure("Detokenize", status);
    return kExitFailure;
  }

  if (absl::GetFlag(FLAGS_json)) return PrintJsonLine(response);
  std::string text = response.text();
  if (text.empty() || text.back() != '\n') text += '\n';
  return WriteToStdout(text) ? 0 : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments = ParseArguments(argc, argv);
  if (const std::string error = ValidateFlags(); !error.empty()) {
    std::fprintf(stderr, "textgen-client: %s\n", error.c_str());
    return kExitUsage;
  }
  if (arguments.size() == 1 && arguments[0] == "info") return RunInfo();
  if (arguments.size() == 1 && arguments[0] == "health") return RunHealth();
  if (!arguments.empty() && (arguments[0] == "tokenize" || arguments[0] == "detokenize")) {
    if (arguments.size() == 1) {
      std::fprintf(stderr, "textgen-client: '%s' needs %s; pass '' for empty text\n",
                   arguments[0].c_str(), arguments[0] == "tokenize" ? "TEXT" : "token ids");
      return kExitUsage;
    }
    const std::vector<std::string> operands(arguments.begin() + 1, arguments.end());
    if (arguments[0] == "tokenize") return RunTokenize(absl::StrJoin(operands, " "));
    return RunDetokenize(operands);
  }

  const std::string prompt = absl::StrJoin(arguments, " ");
  if (arguments.empty()) {
    PrintUsage();
    return kExitUsage;
  }
  if (prompt.empty()) {
    std::fprintf(stderr, "textgen-client: the prompt is empty; pass the text to continue\n");
    return kExitUsage;
  }
  return RunGenerate(prompt);
}
