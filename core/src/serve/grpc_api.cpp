#include "grpc_api.hpp"

#include "openai.grpc.pb.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace parley::serve {

namespace pb = matrix::app_server::llm;
using json = nlohmann::json;

int grpc_code_of(int http_status) {
    switch (http_status) {
    case 200: return grpc::StatusCode::OK;
    case 400: return grpc::StatusCode::INVALID_ARGUMENT;
    case 401: return grpc::StatusCode::UNAUTHENTICATED;
    case 403: return grpc::StatusCode::PERMISSION_DENIED;
    case 404: return grpc::StatusCode::NOT_FOUND;
    case 409: return grpc::StatusCode::ALREADY_EXISTS;
    case 429: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case 499: return grpc::StatusCode::CANCELLED;
    case 500: return grpc::StatusCode::INTERNAL;
    case 501: return grpc::StatusCode::UNIMPLEMENTED;
    case 502:
    case 503: return grpc::StatusCode::UNAVAILABLE;
    case 504: return grpc::StatusCode::DEADLINE_EXCEEDED;
    default: return grpc::StatusCode::UNKNOWN;
    }
}

namespace {

// The request as Matrix's server sees it: json_format.MessageToDict leaves out every field at its
// proto3 default, so temperature 0, top_p 0, n 0, max_tokens 0, seed 0 and an empty stop mean
// "unset" (the server's default), exactly as on a Matrix replica.
// A proto float as Python's json_format renders it: the shortest decimal that round-trips (0.7,
// not 0.699999988).
double shortest(float v) { return std::stod(fmt::format("{}", v)); }

template <class Request>
json common_fields(const Request &r) {
    json body = json::object();
    if (!r.model().empty()) body["model"] = r.model();
    if (r.temperature() != 0) body["temperature"] = shortest(r.temperature());
    if (r.top_p() != 0) body["top_p"] = shortest(r.top_p());
    if (r.n() != 0) body["n"] = r.n();
    if (r.logprobs()) body["logprobs"] = true;
    if (!r.stop().empty()) body["stop"] = r.stop();
    if (r.max_tokens() != 0) body["max_tokens"] = r.max_tokens();
    if (r.seed() != 0) body["seed"] = r.seed();
    return body;
}

json request_json(const pb::ChatCompletionRequest &r) {
    json body = common_fields(r);
    json messages = json::array();
    for (auto &m : r.messages()) messages.push_back({{"role", m.role()}, {"content", m.content()}});
    body["messages"] = std::move(messages);
    return body;
}

json request_json(const pb::CompletionRequest &r) {
    json body = common_fields(r);
    body["prompt"] = r.prompt();
    return body;
}

template <class Response>
void fill_envelope(Response *out, const core::GenerationResult &r, const std::string &id, const char *object,
                   const std::string &model) {
    out->set_id(id);
    out->set_object(object);
    out->set_created(static_cast<int64_t>(std::time(nullptr)));
    out->set_model(model);
    auto *u = out->mutable_usage();
    u->set_prompt_tokens(static_cast<int32_t>(r.prompt_tokens));
    u->set_completion_tokens(static_cast<int32_t>(r.completion_tokens));
    u->set_total_tokens(static_cast<int32_t>(r.prompt_tokens + r.completion_tokens));
}

void fill(pb::ChatCompletionResponse *out, const core::GenerationResult &r, const std::string &id, const std::string &model) {
    fill_envelope(out, r, id, "chat.completion", model);
    for (size_t i = 0; i < r.choices.size(); ++i) {
        auto *c = out->add_choices();
        c->set_index(static_cast<int64_t>(i));
        c->mutable_message()->set_role("assistant");
        c->mutable_message()->set_content(r.choices[i].text);
        c->set_finish_reason(finish_reason_name(r.choices[i].finish_reason));
    }
}

void fill(pb::CompletionResponse *out, const core::GenerationResult &r, const std::string &id, const std::string &model) {
    fill_envelope(out, r, id, "text_completion", model);
    for (size_t i = 0; i < r.choices.size(); ++i) {
        auto *c = out->add_choices();
        c->set_index(static_cast<int64_t>(i));
        c->set_text(r.choices[i].text);
        c->set_finish_reason(finish_reason_name(r.choices[i].finish_reason));
    }
}

std::string metadata(const grpc::CallbackServerContext *ctx, const char *key) {
    auto it = ctx->client_metadata().find(key);
    return it == ctx->client_metadata().end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// A unary call's reactor that cancels the backend request when the client cancels the RPC (or its
// deadline passes, or the connection drops) before the answer: the backend's slot then serves
// requests still wanted. Deletes itself once gRPC is done with it (OnDone) and the handler has
// returned (`handler_returned`): an instant answer may finish the call before the handler gets
// to hand over its cancel function.
class CancellableCall final : public grpc::ServerUnaryReactor {
  public:
    void watch(Service::CancelCall cancel) {
        std::unique_lock lock(mu_);
        if (!cancelled_) {
            cancel_ = std::move(cancel);
            return;
        }
        lock.unlock();
        cancel();
    }
    void handler_returned() { release(); }
    void OnCancel() override {
        std::unique_lock lock(mu_);
        cancelled_ = true;
        auto f = std::move(cancel_);
        lock.unlock();
        if (f) f();
    }
    void OnDone() override { release(); }

  private:
    void release() {
        if (refs_.fetch_sub(1) == 1) delete this;
    }
    std::atomic<int> refs_{2}; // gRPC's (until OnDone) and the handler's
    std::mutex mu_;
    Service::CancelCall cancel_;
    bool cancelled_ = false;
};

class MatrixService final : public pb::OpenaiService::CallbackService {
  public:
    MatrixService(serve::Service &service, std::string api_key) : service_(service), api_key_(std::move(api_key)) {}

    grpc::ServerUnaryReactor *CreateChatCompletion(grpc::CallbackServerContext *ctx, const pb::ChatCompletionRequest *request,
                                                   pb::ChatCompletionResponse *response) override {
        return run(ctx, Endpoint::Chat, request_json(*request), response);
    }
    grpc::ServerUnaryReactor *CreateCompletion(grpc::CallbackServerContext *ctx, const pb::CompletionRequest *request,
                                               pb::CompletionResponse *response) override {
        return run(ctx, Endpoint::Completion, request_json(*request), response);
    }

  private:
    template <class Response>
    grpc::ServerUnaryReactor *run(grpc::CallbackServerContext *ctx, Endpoint endpoint, const json &body, Response *response) {
        auto *reactor = new CancellableCall;
        const std::string label = endpoint == Endpoint::Chat ? "grpc_chat" : "grpc_completions";
        auto refuse = [&](int status, const std::string &message) {
            service_.metrics().record(label, status, nullptr, 0);
            reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(grpc_code_of(status)), message));
            reactor->handler_returned();
            return reactor;
        };
        if (!api_key_.empty() && metadata(ctx, "authorization") != "Bearer " + api_key_)
            return refuse(401, "a valid API key is required (metadata authorization: Bearer <key>)");
        std::shared_ptr<ApiRequest> request;
        try {
            request = std::make_shared<ApiRequest>(parse_request_json(endpoint, body));
        } catch (const ApiError &e) {
            return refuse(e.status(), e.what());
        }
        apply_affinity(*request, metadata(ctx, "multiplexed_model_id"));
        reactor->watch(service_.generate(request, label, [this, reactor, response, endpoint](Outcome &&o) {
            if (o.status != 200) return reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(grpc_code_of(o.status)), o.error));
            fill(response, o.result, service_.next_id(endpoint), service_.model_name());
            reactor->Finish(grpc::Status::OK);
        }));
        reactor->handler_returned();
        return reactor;
    }

    serve::Service &service_;
    std::string api_key_;
};

} // namespace

struct GrpcServer::Impl {
    std::unique_ptr<MatrixService> service;
    std::unique_ptr<grpc::Server> server;
    int port = 0;
};

GrpcServer::GrpcServer(Service &service, const std::string &host, int port, std::string api_key) : impl_(std::make_unique<Impl>()) {
    impl_->service = std::make_unique<MatrixService>(service, std::move(api_key));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(fmt::format("{}:{}", host, port), grpc::InsecureServerCredentials(), &impl_->port);
    builder.RegisterService(impl_->service.get());
    builder.SetMaxReceiveMessageSize(64 << 20);
    impl_->server = builder.BuildAndStart();
    if (!impl_->server || impl_->port == 0)
        throw std::runtime_error(fmt::format("parley serve: cannot listen for gRPC on {}:{}", host, port));
}

GrpcServer::~GrpcServer() { shutdown(0); }

int GrpcServer::port() const { return impl_->port; }

void GrpcServer::shutdown(double grace_s) {
    if (!impl_->server) return;
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                                   std::chrono::duration<double>(grace_s)));
    impl_->server->Wait();
    impl_->server.reset();
}

} // namespace parley::serve
