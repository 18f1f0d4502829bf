#include "http_api.hpp"
#include "sse_stream.hpp"

#include <nlohmann/json.hpp>

#include <ctime>

namespace parley::serve {

using json = nlohmann::json;

namespace {

HttpResponse error_response(int status, const std::string &type, const std::string &message) {
    return {status, "application/json", error_body(status, type, message), {}};
}

bool authorized(const HttpRequest &req, const std::string &api_key) {
    if (api_key.empty()) return true;
    const std::string *auth = req.header("authorization");
    return auth && *auth == "Bearer " + api_key;
}

void generate(Service &service, Endpoint endpoint, HttpRequest &&req, Reply reply) {
    const std::string label = endpoint == Endpoint::Chat ? "chat" : "completions";
    std::shared_ptr<ApiRequest> request;
    try {
        request = std::make_shared<ApiRequest>(parse_request(endpoint, req.body));
    } catch (const ApiError &e) {
        service.metrics().record(label, e.status(), nullptr, 0);
        return reply(error_response(e.status(), e.type(), e.what()));
    }
    apply_affinity(*request, affinity_header(req));
    const std::string id = service.next_id(request->endpoint);
    const int64_t created = static_cast<int64_t>(std::time(nullptr));
    if (request->stream) { // text goes out as the backend makes it (sse_stream.hpp)
        auto stream = std::make_shared<SseStream>(request, reply, id, created, service.model_name());
        // (weak: the request holds this function, the stream holds the request)
        request->gen.on_delta = [weak = std::weak_ptr<SseStream>(stream)](uint32_t index, std::string_view text) {
            if (auto s = weak.lock()) s->delta(index, text);
        };
        return reply.on_disconnect(service.generate(request, label, [stream](Outcome &&o) { stream->finish(o); }));
    }
    reply.on_disconnect(service.generate(request, label, [&service, request, reply, id, created](Outcome &&o) {
        if (o.status != 200) return reply(error_response(o.status, o.error_type, o.error));
        reply({200, "application/json", response_json(*request, o.result, id, created, service.model_name()).dump(), {}});
    }));
}

json models_json(const Service &service) {
    json model = {{"id", service.model_name()}, {"object", "model"}, {"created", static_cast<int64_t>(std::time(nullptr))},
                  {"owned_by", "parley"}};
    if (service.context_size() > 0) model["max_model_len"] = service.context_size();
    return {{"object", "list"}, {"data", json::array({model})}};
}

} // namespace

std::string affinity_header(const HttpRequest &req) {
    for (const char *name : {"x-conversation-id", "serve_multiplexed_model_id"})
        if (const std::string *v = req.header(name); v && !v->empty()) return *v;
    return {};
}

Handler make_http_handler(Service &service, std::string api_key) {
    return [&service, api_key = std::move(api_key)](HttpRequest &&req, Reply reply) {
        const std::string path = req.target.substr(0, req.target.find('?'));
        if (path == "/health") {
            if (service.draining()) return reply(error_response(503, "service_unavailable", "draining"));
            return reply({200, "application/json", R"({"status":"ok"})", {}});
        }
        if (path == "/metrics") return reply({200, "text/plain; version=0.0.4", service.metrics_text(), {}});
        if (path.rfind("/v1/", 0) == 0 && !authorized(req, api_key))
            return reply(error_response(401, "authentication_error", "a valid API key is required (Authorization: Bearer <key>)"));
        if (path == "/v1/models" && req.method == "GET") return reply({200, "application/json", models_json(service).dump(), {}});
        if (path == "/v1/chat/completions" && req.method == "POST") return generate(service, Endpoint::Chat, std::move(req), reply);
        if (path == "/v1/completions" && req.method == "POST") return generate(service, Endpoint::Completion, std::move(req), reply);
        reply(error_response(404, "not_found_error", req.method + " " + path + " is not served here"));
    };
}

} // namespace parley::serve
