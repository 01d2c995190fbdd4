#ifndef TEXTGEN_TESTS_SERVER_GENERATE_CALL_H_
#define TEXTGEN_TESTS_SERVER_GENERATE_CALL_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {

// Everything one Generate call streamed back.
struct StreamResult {
  grpc::Status status;
  std::vector<v1::TokenChunk> chunks;
  std::vector<v1::Completion> completions;
  bool completion_was_last = true;

  std::vector<int32_t> TokenIds() const {
    std::vector<int32_t> ids;
    for (const auto& chunk : chunks) ids.insert(ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    return ids;
  }
  std::string Text() const {
    std::string text;
    for (const auto& chunk : chunks) text += chunk.text();
    return text;
  }
};

// Calls Generate and reads the whole stream.
inline StreamResult CallGenerate(v1::TextGeneration::Stub& stub, const v1::GenerateRequest& request,
                                 grpc::ClientContext* context = nullptr) {
  grpc::ClientContext local_context;
  if (context == nullptr) context = &local_context;
  auto reader = stub.Generate(context, request);
  StreamResult result;
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    if (!result.completions.empty()) result.completion_was_last = false;
    if (response.has_chunk()) result.chunks.push_back(response.chunk());
    if (response.has_complete()) result.completions.push_back(response.complete());
  }
  result.status = reader->Finish();
  return result;
}

}  // namespace textgen

#endif  // TEXTGEN_TESTS_SERVER_GENERATE_CALL_H_
