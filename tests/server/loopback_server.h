#ifndef TEXTGEN_TESTS_SERVER_LOOPBACK_SERVER_H_
#define TEXTGEN_TESTS_SERVER_LOOPBACK_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "engine/model/model_loader.h"
#include "server/generation_service.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen::testing {

// A GenerationService for one model on an ephemeral loopback port. Check
// ok() after construction: a load or listen failure is reported through
// gtest and leaves the server unusable.
class LoopbackServer {
 public:
  explicit LoopbackServer(const ModelFiles& files, int32_t default_max_new_tokens = 256) {
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return;
    model_ = std::make_unique<LoadedModel>(*std::move(loaded));

    ServiceOptions options;
    options.default_max_new_tokens = default_max_new_tokens;
    // The test models are tiny; a small cache spares the machine's memory.
    options.scheduler.kv_cache_bytes = int64_t{32} << 20;
    service_ = std::make_unique<GenerationService>(*model_, options);
    absl::StatusOr<RunningServer> running = StartGrpcServer(service_.get(), "127.0.0.1:0");
    EXPECT_TRUE(running.ok()) << running.status();
    if (!running.ok()) return;
    running_ = *std::move(running);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(running_.port),
                                   grpc::InsecureChannelCredentials());
  }

  ~LoopbackServer() {
    if (running_.server != nullptr) running_.server->Shutdown();
  }

  bool ok() const { return channel_ != nullptr; }
  std::unique_ptr<v1::TextGeneration::Stub> NewStub() const {
    return v1::TextGeneration::NewStub(channel_);
  }
  const LoadedModel& model() const { return *model_; }

 private:
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<GenerationService> service_;
  RunningServer running_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace textgen::testing

#endif  // TEXTGEN_TESTS_SERVER_LOOPBACK_SERVER_H_
