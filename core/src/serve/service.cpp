#include "service.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace parley::serve {

using Clock = std::chrono::steady_clock;

Service::Service(core::Backend &backend, std::string model_name) : backend_(backend), model_name_(std::move(model_name)) {}

std::string Service::next_id(Endpoint endpoint) {
    return fmt::format("{}-{:016x}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl", next_id_.fetch_add(1));
}

// A status the metrics give a request whose client left before its answer.
constexpr int kClientClosedRequest = 499;

Service::CancelCall Service::generate(std::shared_ptr<ApiRequest> request, const std::string &endpoint,
                                      std::function<void(Outcome &&)> done) {
    struct Call {
        std::atomic<bool> client_gone{false};
        std::atomic<uint64_t> id{0}; // the backend's request id, once submitted
    };
    auto call = std::make_shared<Call>();
    const auto t0 = Clock::now();
    auto finish = [this, t0, endpoint, call, done = std::move(done)](Outcome &&o) {
        const double latency = std::chrono::duration<double>(Clock::now() - t0).count();
        const int status = o.status != 200 && call->client_gone ? kClientClosedRequest : o.status;
        metrics_.record(endpoint, status, o.status == 200 ? &o.result : nullptr, latency);
        done(std::move(o));
        --in_flight_;
    };
    ++in_flight_;
    if (draining_) {
        finish({503, "service_unavailable", "parley serve is shutting down", {}});
        return [] {};
    }
    try {
        call->id = backend_.submit(request->generation(), [finish, request](core::GenerationResult &&r) {
            Outcome o;
            if (r.status != PARLEY_OK) {
                auto [status, type] = http_status_of(r.status);
                o = {status, type, r.error.empty() ? "the backend failed" : r.error, {}};
            } else {
                o.result = std::move(r);
            }
            finish(std::move(o));
        });
    } catch (const core::ComponentError &e) {
        auto [status, type] = http_status_of(e.code());
        finish({status, type, e.what(), {}});
        return [] {};
    }
    return [this, call] {
        if (call->client_gone.exchange(true)) return;
        if (const uint64_t id = call->id.load()) backend_.cancel(id); // a finished request: a no-op
    };
}

bool Service::wait_idle(double timeout_s) const {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    while (in_flight_ > 0) {
        if (Clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

} // namespace parley::serve
