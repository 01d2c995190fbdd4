// Server reflection of a real textgen-server, used the way generic gRPC tools
// such as grpcurl use it: list the services, fetch the descriptors of
// TextGeneration, then call Generate with messages built from those
// descriptors alone. This executable links none of textgen's generated
// classes. The expected tokens are the torch greedy continuation in
// tests/data/embedded-golden.json.

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"
#include "tests/test_paths.h"

namespace textgen {
namespace {

namespace pb = ::google::protobuf;
namespace reflection = ::grpc::reflection::v1alpha;
using ::testing::Contains;
using ::testing::IsSupersetOf;
using testing::Process;

constexpr char kTextGeneration[] = "textgen.v1.TextGeneration";
constexpr char kHealth[] = "grpc.health.v1.Health";
constexpr char kServerReflection[] = "grpc.reflection.v1alpha.ServerReflection";
constexpr char kGenerateMethod[] = "/textgen.v1.TextGeneration/Generate";

// Every call ends by this deadline, so no test can wait forever on a server
// that stopped responding.
constexpr std::chrono::seconds kCallTimeout(60);

// The prompt and token limit of the generic Generate call.
constexpr char kPrompt[] = "Once upon a time";
constexpr uint32_t kMaxNewTokens = 8;

std::chrono::system_clock::time_point CallDeadline() {
  return std::chrono::system_clock::now() + kCallTimeout;
}

// textgen-server with its embedded model on a free loopback port, metrics off.
class ServerProcess {
 public:
  ServerProcess()
      : process_({testing::BinaryDir() + "/server/textgen-server", "--listen", "127.0.0.1:0",
                  "--metrics-listen", ""}) {
    port_ = process_.WaitForStderrLine(testing::ServingLine());
  }

  bool started() const { return !port_.empty(); }
  std::string address() const { return "127.0.0.1:" + port_; }

 private:
  Process process_;
  std::string port_;
};

// One ServerReflectionInfo stream, which carries any number of queries.
class ReflectionStream {
 public:
  explicit ReflectionStream(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(reflection::ServerReflection::NewStub(channel)) {
    context_.set_deadline(CallDeadline());
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  ~ReflectionStream() {
    if (finished_) return;
    context_.TryCancel();
    stream_->Finish();
  }

  // Sends `request` and returns the server's response to it, or nullopt when
  // the stream ended first.
  std::optional<reflection::ServerReflectionResponse> Query(
      const reflection::ServerReflectionRequest& request) {
    if (!stream_->Write(request)) return std::nullopt;
    reflection::ServerReflectionResponse response;
    if (!stream_->Read(&response)) return std::nullopt;
    return response;
  }

  // Closes the client's side and returns the stream's final status.
  grpc::Status Finish() {
    stream_->WritesDone();
    finished_ = true;
    return stream_->Finish();
  }

 private:
  std::unique_ptr<reflection::ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<reflection::ServerReflectionRequest,
                                           reflection::ServerReflectionResponse>>
      stream_;
  bool finished_ = false;
};

reflection::ServerReflectionRequest ListServicesRequest() {
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  return request;
}

reflection::ServerReflectionRequest FileContainingSymbolRequest(const std::string& symbol) {
  reflection::ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol);
  return request;
}

reflection::ServerReflectionRequest FileByFilenameRequest(const std::string& filename) {
  reflection::ServerReflectionRequest request;
  request.set_file_by_filename(filename);
  return request;
}

std::vector<std::string> ServiceNames(const reflection::ListServiceResponse& list) {
  std::vector<std::string> names;
  for (const reflection::ServiceResponse& service : list.service()) names.push_back(service.name());
  return names;
}

bool HasAllDependencies(const pb::FileDescriptorProto& file, const pb::DescriptorPool& pool) {
  for (const std::string& dependency : file.dependency()) {
    if (pool.FindFileByName(dependency) == nullptr) return false;
  }
  return true;
}

// Adds the files of `response` to `pool`, each one after the files it
// imports, because the server may send them in any order. Returns the names
// of the files that could not be built: a file whose imports never arrived,
// or one that protobuf rejects (protobuf logs why).
std::vector<std::string> AddFilesToPool(const reflection::FileDescriptorResponse& response,
                                        pb::DescriptorPool* pool) {
  std::vector<pb::FileDescriptorProto> pending;
  std::vector<std::string> failed;
  for (const std::string& serialized : response.file_descriptor_proto()) {
    pb::FileDescriptorProto file;
    if (!file.ParseFromString(serialized)) {
      failed.push_back("(unparsable FileDescriptorProto)");
      continue;
    }
    if (pool->FindFileByName(file.name()) == nullptr) pending.push_back(std::move(file));
  }

  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      if (!HasAllDependencies(*it, *pool)) {
        ++it;
        continue;
      }
      if (pool->BuildFile(*it) == nullptr) failed.push_back(it->name());
      it = pending.erase(it);
      progress = true;
    }
  }
  for (const pb::FileDescriptorProto& file : pending) failed.push_back(file.name());
  return failed;
}

// Asks the server for the file that declares `symbol` and adds it and its
// imports to `pool`.
void LoadFileContainingSymbol(ReflectionStream& stream, const std::string& symbol,
                              pb::DescriptorPool* pool) {
  std::optional<reflection::ServerReflectionResponse> response =
      stream.Query(FileContainingSymbolRequest(symbol));
  ASSERT_TRUE(response.has_value()) << "the reflection stream ended early";
  ASSERT_TRUE(response->has_file_descriptor_response())
      << symbol << ": " << response->error_response().error_message();
  ASSERT_GT(response->file_descriptor_response().file_descriptor_proto_size(), 0);
  EXPECT_THAT(AddFilesToPool(response->file_descriptor_response(), pool), ::testing::IsEmpty());
}

// Everything that one generic server-streaming call returned.
struct GenericStreamResult {
  grpc::Status status;
  std::vector<std::string> responses;  // serialized messages, in order
};

// Waits for the one operation in flight on `queue` and returns whether it
// succeeded.
bool AwaitOperation(grpc::CompletionQueue& queue, void* tag) {
  void* completed_tag = nullptr;
  bool ok = false;
  if (!queue.Next(&completed_tag, &ok)) return false;
  EXPECT_EQ(completed_tag, tag);
  return ok;
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// Calls the server-streaming `method` with one serialized request through
// grpc::GenericStub, as a tool without generated stubs does. gRPC 1.51's
// GenericStub has no synchronous or callback form for server streaming, so
// this drives its completion-queue form one operation at a time: start, send
// the request and half-close, read until the stream ends, finish.
GenericStreamResult CallServerStreaming(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& method, const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  GenericStreamResult result;
  int tag = 0;

  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &queue);
  call->StartCall(&tag);
  if (AwaitOperation(queue, &tag)) {
    grpc::Slice request_slice(request);
    call->WriteLast(grpc::ByteBuffer(&request_slice, 1), grpc::WriteOptions(), &tag);
    AwaitOperation(queue, &tag);

    grpc::ByteBuffer response;
    while (true) {
      call->Read(&response, &tag);
      if (!AwaitOperation(queue, &tag)) break;
      result.responses.push_back(ToString(response));
    }
  }
  call->Finish(&result.status, &tag);
  AwaitOperation(queue, &tag);

  queue.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (queue.Next(&ignored_tag, &ignored_ok)) {
  }
  return result;
}

// Returns the field `name` of `descriptor`, failing the test when the
// reflected type has no such field.
const pb::FieldDescriptor* Field(const pb::Descriptor* descriptor, const std::string& name) {
  const pb::FieldDescriptor* field = descriptor->FindFieldByName(name);
  EXPECT_NE(field, nullptr) << descriptor->full_name() << " has no field " << name;
  return field;
}

// Builds a GenerateRequest for kPrompt and kMaxNewTokens through protobuf
// reflection, knowing only the field names of textgen.proto.
std::string SerializedGenerateRequest(const pb::Descriptor* request_type,
                                      pb::DynamicMessageFactory& factory) {
  std::unique_ptr<pb::Message> request(factory.GetPrototype(request_type)->New());
  const pb::Reflection* fields = request->GetReflection();
  fields->SetString(request.get(), Field(request_type, "prompt"), kPrompt);

  pb::Message* stopping = fields->MutableMessage(request.get(), Field(request_type, "stopping"));
  stopping->GetReflection()->SetUInt32(
      stopping, Field(stopping->GetDescriptor(), "max_new_tokens"), kMaxNewTokens);
  return request->SerializeAsString();
}

struct DecodedCompletion {
  std::string finish_reason;  // the enum value's name
  uint32_t prompt_tokens = 0;
  uint32_t generated_tokens = 0;
};

// The Generate stream, decoded through protobuf reflection.
struct DecodedStream {
  int chunk_count = 0;
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<DecodedCompletion> completions;
  bool completion_was_last = true;
  int unknown_responses = 0;
};

void DecodeChunk(const pb::Message& chunk, DecodedStream* stream) {
  const pb::Reflection* fields = chunk.GetReflection();
  const pb::Descriptor* type = chunk.GetDescriptor();
  ++stream->chunk_count;
  stream->text += fields->GetString(chunk, Field(type, "text"));
  const pb::FieldDescriptor* token_ids = Field(type, "token_ids");
  for (int i = 0; i < fields->FieldSize(chunk, token_ids); ++i) {
    stream->token_ids.push_back(fields->GetRepeatedInt32(chunk, token_ids, i));
  }
}

DecodedCompletion DecodeCompletion(const pb::Message& completion) {
  const pb::Reflection* fields = completion.GetReflection();
  const pb::Descriptor* type = completion.GetDescriptor();
  DecodedCompletion decoded;
  decoded.finish_reason = fields->GetEnum(completion, Field(type, "finish_reason"))->name();
  decoded.prompt_tokens = fields->GetUInt32(completion, Field(type, "prompt_tokens"));
  decoded.generated_tokens = fields->GetUInt32(completion, Field(type, "generated_tokens"));
  return decoded;
}

// Parses each serialized GenerateResponse and sorts it by the member of its
// `kind` oneof: a TokenChunk in `chunk` or a Completion in `complete`.
DecodedStream DecodeGenerateResponses(const std::vector<std::string>& responses,
                                      const pb::Descriptor* response_type,
                                      pb::DynamicMessageFactory& factory) {
  DecodedStream stream;
  const pb::OneofDescriptor* kind = response_type->FindOneofByName("kind");
  EXPECT_NE(kind, nullptr) << response_type->full_name() << " has no oneof kind";
  if (kind == nullptr) return stream;

  for (const std::string& serialized : responses) {
    std::unique_ptr<pb::Message> response(factory.GetPrototype(response_type)->New());
    EXPECT_TRUE(response->ParseFromString(serialized));
    const pb::Reflection* fields = response->GetReflection();
    const pb::FieldDescriptor* member = fields->GetOneofFieldDescriptor(*response, kind);
    if (!stream.completions.empty()) stream.completion_was_last = false;

    if (member != nullptr && member->name() == "chunk") {
      DecodeChunk(fields->GetMessage(*response, member), &stream);
    } else if (member != nullptr && member->name() == "complete") {
      stream.completions.push_back(DecodeCompletion(fields->GetMessage(*response, member)));
    } else {
      ++stream.unknown_responses;
    }
  }
  return stream;
}

// The torch greedy continuation of kPrompt on the embedded model.
struct GoldenCase {
  size_t prompt_token_count = 0;
  std::vector<int32_t> generated_token_ids;
  std::string generated_text;
};

GoldenCase GoldenContinuation() {
  std::ifstream in(testing::SourceDir() + "/tests/data/embedded-golden.json");
  EXPECT_TRUE(in.good()) << "missing tests/data/embedded-golden.json";
  const nlohmann::json golden = nlohmann::json::parse(in);
  for (const nlohmann::json& entry : golden["greedy"]) {
    if (entry["prompt"] != kPrompt) continue;
    GoldenCase result;
    result.prompt_token_count = entry["prompt_token_ids"].size();
    result.generated_token_ids = entry["generated_token_ids"].get<std::vector<int32_t>>();
    result.generated_text = entry["generated_text"].get<std::string>();
    return result;
  }
  ADD_FAILURE() << "embedded-golden.json has no greedy case for \"" << kPrompt << "\"";
  return {};
}

class ReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started()) << "textgen-server did not report its port";
    channel_ = grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials());
  }

  ServerProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ReflectionTest, ListsGenerationHealthAndReflection) {
  ReflectionStream stream(channel_);

  std::optional<reflection::ServerReflectionResponse> response = stream.Query(ListServicesRequest());

  ASSERT_TRUE(response.has_value()) << "the reflection stream ended early";
  ASSERT_TRUE(response->has_list_services_response()) << response->DebugString();
  EXPECT_THAT(ServiceNames(response->list_services_response()),
              IsSupersetOf({kTextGeneration, kHealth, kServerReflection}));
  EXPECT_EQ(response->original_request().message_request_case(),
            reflection::ServerReflectionRequest::kListServices);
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ReflectionTest, EveryListedServiceHasDescriptor) {
  ReflectionStream stream(channel_);
  std::optional<reflection::ServerReflectionResponse> list = stream.Query(ListServicesRequest());
  ASSERT_TRUE(list.has_value()) << "the reflection stream ended early";

  pb::DescriptorPool pool;
  for (const std::string& name : ServiceNames(list->list_services_response())) {
    SCOPED_TRACE(name);
    LoadFileContainingSymbol(stream, name, &pool);
    EXPECT_NE(pool.FindServiceByName(name), nullptr);
  }
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ReflectionTest, DescribesGenerateAsServerStreaming) {
  ReflectionStream stream(channel_);
  pb::DescriptorPool pool;
  ASSERT_NO_FATAL_FAILURE(LoadFileContainingSymbol(stream, kTextGeneration, &pool));

  const pb::ServiceDescriptor* service = pool.FindServiceByName(kTextGeneration);
  ASSERT_NE(service, nullptr);
  const pb::MethodDescriptor* generate = service->FindMethodByName("Generate");
  ASSERT_NE(generate, nullptr);
  EXPECT_TRUE(generate->server_streaming());
  EXPECT_FALSE(generate->client_streaming());
  EXPECT_EQ(generate->input_type()->full_name(), "textgen.v1.GenerateRequest");
  EXPECT_EQ(generate->output_type()->full_name(), "textgen.v1.GenerateResponse");
  EXPECT_EQ(service->file()->name(), "textgen/v1/textgen.proto");
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ReflectionTest, FindsTextgenProtoByFilename) {
  ReflectionStream stream(channel_);

  std::optional<reflection::ServerReflectionResponse> response =
      stream.Query(FileByFilenameRequest("textgen/v1/textgen.proto"));

  ASSERT_TRUE(response.has_value()) << "the reflection stream ended early";
  ASSERT_TRUE(response->has_file_descriptor_response())
      << response->error_response().error_message();
  pb::DescriptorPool pool;
  EXPECT_THAT(AddFilesToPool(response->file_descriptor_response(), &pool), ::testing::IsEmpty());
  EXPECT_NE(pool.FindServiceByName(kTextGeneration), nullptr);
  EXPECT_NE(pool.FindMessageTypeByName("textgen.v1.Completion"), nullptr);
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ReflectionTest, GenericCallStreamsGreedyStory) {
  pb::DescriptorPool pool;
  {
    ReflectionStream stream(channel_);
    ASSERT_NO_FATAL_FAILURE(LoadFileContainingSymbol(stream, kTextGeneration, &pool));
    EXPECT_TRUE(stream.Finish().ok());
  }
  const pb::MethodDescriptor* generate = pool.FindMethodByName("textgen.v1.TextGeneration.Generate");
  ASSERT_NE(generate, nullptr);
  pb::DynamicMessageFactory factory(&pool);

  const std::string request = SerializedGenerateRequest(generate->input_type(), factory);
  GenericStreamResult result = CallServerStreaming(channel_, kGenerateMethod, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  DecodedStream decoded = DecodeGenerateResponses(result.responses, generate->output_type(), factory);

  EXPECT_GE(decoded.chunk_count, 1);
  EXPECT_EQ(decoded.unknown_responses, 0);
  ASSERT_EQ(decoded.completions.size(), 1u);
  EXPECT_TRUE(decoded.completion_was_last);
  const DecodedCompletion& completion = decoded.completions[0];
  EXPECT_EQ(completion.generated_tokens, decoded.token_ids.size());

  // The request leaves sampling unset, which means greedy decoding, and the
  // torch continuation runs far past kMaxNewTokens before its EOS.
  const GoldenCase golden = GoldenContinuation();
  ASSERT_GT(golden.generated_token_ids.size(), kMaxNewTokens);
  const std::vector<int32_t> expected_ids(golden.generated_token_ids.begin(),
                                          golden.generated_token_ids.begin() + kMaxNewTokens);
  EXPECT_EQ(decoded.token_ids, expected_ids);
  EXPECT_EQ(completion.generated_tokens, kMaxNewTokens);
  EXPECT_EQ(completion.finish_reason, "FINISH_REASON_LENGTH");
  EXPECT_EQ(completion.prompt_tokens, golden.prompt_token_count);
  EXPECT_FALSE(decoded.text.empty());
  EXPECT_EQ(golden.generated_text.rfind(decoded.text, 0), 0u)
      << "streamed text \"" << decoded.text << "\" does not start the torch continuation";
}

TEST_F(ReflectionTest, UnknownFileAndSymbolAreNotFound) {
  ReflectionStream stream(channel_);

  std::optional<reflection::ServerReflectionResponse> file =
      stream.Query(FileByFilenameRequest("textgen/v1/missing.proto"));
  std::optional<reflection::ServerReflectionResponse> symbol =
      stream.Query(FileContainingSymbolRequest("textgen.v1.Missing"));
  // An error response ends only its own query, and the stream stays usable.
  std::optional<reflection::ServerReflectionResponse> list = stream.Query(ListServicesRequest());

  ASSERT_TRUE(file.has_value()) << "the reflection stream ended early";
  ASSERT_TRUE(file->has_error_response()) << file->DebugString();
  EXPECT_EQ(file->error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(file->error_response().error_message().empty());

  ASSERT_TRUE(symbol.has_value()) << "the reflection stream ended early";
  ASSERT_TRUE(symbol->has_error_response()) << symbol->DebugString();
  EXPECT_EQ(symbol->error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(symbol->error_response().error_message().empty());

  ASSERT_TRUE(list.has_value()) << "the reflection stream ended after an error";
  EXPECT_THAT(ServiceNames(list->list_services_response()), Contains(kTextGeneration));
  EXPECT_TRUE(stream.Finish().ok());
}

// Expects the served message `served` to have the same fields as the client
// copy's `copy`: name, number, type, label, message type and oneof.
void ExpectSameFields(const pb::Descriptor* copy, const pb::Descriptor* served) {
  SCOPED_TRACE(copy->full_name());
  EXPECT_EQ(served->field_count(), copy->field_count());
  for (int i = 0; i < copy->field_count(); ++i) {
    const pb::FieldDescriptor* field = copy->field(i);
    SCOPED_TRACE(field->name());
    const pb::FieldDescriptor* served_field = served->FindFieldByNumber(field->number());
    ASSERT_NE(served_field, nullptr);
    EXPECT_EQ(served_field->name(), field->name());
    EXPECT_EQ(served_field->type(), field->type());
    EXPECT_EQ(served_field->label(), field->label());
    if (field->message_type() != nullptr) {
      ASSERT_NE(served_field->message_type(), nullptr);
      EXPECT_EQ(served_field->message_type()->full_name(), field->message_type()->full_name());
    }
    const pb::OneofDescriptor* oneof = field->real_containing_oneof();
    const pb::OneofDescriptor* served_oneof = served_field->real_containing_oneof();
    ASSERT_EQ(served_oneof == nullptr, oneof == nullptr);
    if (oneof != nullptr) {
      EXPECT_EQ(served_oneof->name(), oneof->name());
    }
  }
}

// The client copy in proto/grpc/reflection/v1alpha/reflection.proto must
// match the protocol that gRPC's own implementation serves.
TEST_F(ReflectionTest, ServedProtocolMatchesClientCopy) {
  ReflectionStream stream(channel_);
  pb::DescriptorPool pool;
  ASSERT_NO_FATAL_FAILURE(LoadFileContainingSymbol(stream, kServerReflection, &pool));
  EXPECT_TRUE(stream.Finish().ok());

  const pb::FileDescriptor* copy = reflection::ServerReflectionRequest::descriptor()->file();
  for (int i = 0; i < copy->message_type_count(); ++i) {
    const pb::Descriptor* message = copy->message_type(i);
    const pb::Descriptor* served = pool.FindMessageTypeByName(message->full_name());
    ASSERT_NE(served, nullptr) << "the server does not define " << message->full_name();
    ExpectSameFields(message, served);
  }

  const pb::ServiceDescriptor* service = copy->FindServiceByName("ServerReflection");
  const pb::ServiceDescriptor* served_service = pool.FindServiceByName(kServerReflection);
  ASSERT_NE(service, nullptr);
  ASSERT_NE(served_service, nullptr);
  ASSERT_EQ(served_service->method_count(), service->method_count());
  const pb::MethodDescriptor* method = service->method(0);
  const pb::MethodDescriptor* served_method = served_service->FindMethodByName(method->name());
  ASSERT_NE(served_method, nullptr);
  EXPECT_TRUE(served_method->client_streaming());
  EXPECT_TRUE(served_method->server_streaming());
  EXPECT_EQ(served_method->input_type()->full_name(), method->input_type()->full_name());
  EXPECT_EQ(served_method->output_type()->full_name(), method->output_type()->full_name());
}

}  // namespace
}  // namespace textgen
