#include "service.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace parley::serve {

using Clock = std::chrono::steady_clock;

Service::Service(core::Backend &backend, std::string model_name) : backend_(backend), model_name_(std::move(model_name)) {}

std::string Service::next_id(Endpoint endpoint) {
    return fmt::format("{}-{:016x}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl", next_id_.fetch_add(1));
}

void Service::generate(std::shared_ptr<ApiRequest> request, const std::string &endpoint, std::function<void(Outcome &&)> done) {
    const auto t0 = Clock::now();
    auto finish = [this, t0, endpoint, done = std::move(done)](Outcome &&o) {
        const double latency = std::chrono::duration<double>(Clock::now() - t0).count();
        metrics_.record(endpoint, o.status, o.status == 200 ? &o.result : nullptr, latency);
        done(std::move(o));
        --in_flight_;
    };
    ++in_flight_;
    if (draining_) return finish({503, "service_unavailable", "parley serve is shutting down", {}});
    try {
        backend_.submit(request->generation(), [finish, request](core::GenerationResult &&r) {
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
    }
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
