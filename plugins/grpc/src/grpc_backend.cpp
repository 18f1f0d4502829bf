#include "grpc_backend.hpp"
#include "params.hpp"

#include "openai.grpc.pb.h"
#include "common/replica_list.hpp"
#include "router.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

namespace parley::grpc_backend {

namespace pb = matrix::app_server::llm;
using Clock = std::chrono::steady_clock;
using seconds = std::chrono::duration<double>;

namespace {

[[noreturn]] void bad_config(const std::string &what) { throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "grpc/backend: " + what); }

struct Replica {
    explicit Replica(std::string t)
        : target(std::move(t)), channel(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
          stub(pb::OpenaiService::NewStub(channel)) {}
    std::string target;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::OpenaiService::Stub> stub;
    int64_t outstanding = 0;
    uint64_t succeeded = 0, failed = 0;
    Clock::time_point down_until{};
    int strikes = 0;
};

struct Call {
    uint64_t id = 0;
    parley::Request q;
    parley::Backend::Done done;
    Clock::time_point submitted, deadline;
    bool has_deadline = false, cancelled = false, in_flight = false;
    int attempts = 0;
    std::string last_failed; // target of the replica that failed the last attempt
    std::string last_error;
    // The attempt on the wire.
    std::unique_ptr<grpc::ClientContext> ctx;
    pb::ChatCompletionRequest chat_req;
    pb::ChatCompletionResponse chat_resp;
    pb::CompletionRequest comp_req;
    pb::CompletionResponse comp_resp;
    bool chat() const { return q.prompt.empty(); }
};
using CallPtr = std::shared_ptr<Call>;

struct Failure {
    CallPtr call;
    parley_status status;
    std::string why;
};

int32_t finish_code(const std::string &s) { return s == "length" ? PARLEY_FINISH_LENGTH : PARLEY_FINISH_STOP; }

bool retryable(grpc::StatusCode c) {
    return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
           c == grpc::StatusCode::RESOURCE_EXHAUSTED || c == grpc::StatusCode::INTERNAL || c == grpc::StatusCode::UNKNOWN;
}

parley_status status_of(grpc::StatusCode c) {
    switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT: return PARLEY_ERR_INVALID_ARGUMENT;
    case grpc::StatusCode::NOT_FOUND: return PARLEY_ERR_NOT_FOUND;
    case grpc::StatusCode::CANCELLED: return PARLEY_ERR_CANCELLED;
    case grpc::StatusCode::UNIMPLEMENTED: return PARLEY_ERR_UNSUPPORTED;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return PARLEY_ERR_UNAVAILABLE;
    default: return PARLEY_ERR_RUNTIME;
    }
}

// Matrix's request fields from a Parley request. proto3 has no "unset": 0 means the server's
// default, so greedy (temperature 0) is sent as 0 and a Matrix server reads it as its default.
template <class Req>
void fill_sampling(Req &r, const parley::Request &q, const std::string &model) {
    r.set_model(model);
    r.set_temperature(static_cast<float>(q.temperature));
    if (q.top_p > 0 && q.top_p < 1) r.set_top_p(static_cast<float>(q.top_p));
    r.set_n(q.n);
    if (!q.stop.empty()) r.set_stop(q.stop.front());
    if (q.max_tokens > 0) r.set_max_tokens(q.max_tokens);
    if (q.seed) r.set_seed(static_cast<int32_t>(*q.seed & 0x7fffffff));
}

} // namespace

struct GrpcBackend::Impl {
    // ---- configuration ----
    std::vector<std::string> static_targets;
    std::string replicas_from; // file or folder re-read while running
    std::string model, application, api_key;
    double timeout_s = 600, backoff_initial_s = 0.5, backoff_factor = 2, load_factor = 1.25, cooldown_s = 1;
    double discovery_interval_s = 1;
    int max_retries = 3;
    int64_t max_in_flight = 256;
    bool affinity = true;

    // ---- shared, under mu ----
    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<std::shared_ptr<Replica>> replicas; // the current set, in list order
    std::unique_ptr<openai::Ring> ring;
    std::unordered_map<uint64_t, CallPtr> live;
    std::deque<CallPtr> ready;                      // waiting for a replica
    std::multimap<Clock::time_point, CallPtr> timers; // retries after their backoff
    uint64_t next_id = 0, rr = 0;
    int64_t on_wire = 0;
    bool stopping = false;
    std::mt19937_64 rng{std::random_device{}()};
    std::thread worker;

    explicit Impl(const parley::Config &cfg) {
        // Ranges are the specs' (params.hpp), checked by the host and again by get<T>.
        static_targets = common::grpc_targets(cfg.get(kUrl.key, std::vector<std::string>{}));
        replicas_from = cfg.get(kReplicasFrom.key, "");
        if (static_targets.empty() && replicas_from.empty()) bad_config("give `url` (host:port, one or more) or `replicas_from`");
        model = cfg.get<std::string>(kModel);
        application = cfg.get<std::string>(kApplication);
        if (const char *k = std::getenv(cfg.get<std::string>(kApiKeyEnv).c_str()); k && *k) api_key = k;
        timeout_s = cfg.get<double>(kTimeout);
        max_retries = cfg.get<int>(kMaxRetries);
        backoff_initial_s = cfg.get<double>(kBackoffInitial);
        backoff_factor = cfg.get<double>(kBackoffFactor);
        max_in_flight = cfg.get<int64_t>(kMaxInFlight);
        affinity = cfg.get<bool>(kAffinity);
        load_factor = cfg.get<double>(kLoadFactor);
        cooldown_s = cfg.get<double>(kCooldown);
        discovery_interval_s = cfg.get<double>(kDiscoveryInterval);
        {
            std::lock_guard<std::mutex> lock(mu);
            refresh_replicas();
        }
        worker = std::thread([this] { run(); });
    }

    ~Impl() {
        std::unique_lock<std::mutex> lock(mu);
        stopping = true;
        for (auto &[id, c] : live) {
            c->cancelled = true;
            if (c->in_flight) c->ctx->TryCancel();
        }
        cv.notify_all();
        cv.wait(lock, [&] { return on_wire == 0; }); // every callback has run
        std::vector<CallPtr> left;
        for (auto &[id, c] : live) left.push_back(c);
        live.clear();
        ready.clear();
        timers.clear();
        lock.unlock();
        worker.join();
        for (auto &c : left) fail_now(c, PARLEY_ERR_CANCELLED, "grpc/backend: cancelled (backend destroyed)");
    }

    // ---- replicas (under mu) ----
    std::vector<std::string> targets() const {
        std::vector<std::string> t = static_targets;
        if (!replicas_from.empty())
            for (auto &x : common::grpc_targets(common::read_replica_list(replicas_from)))
                if (std::find(t.begin(), t.end(), x) == t.end()) t.push_back(x);
        return t;
    }

    void refresh_replicas() {
        auto want = targets();
        std::vector<std::string> have;
        for (auto &r : replicas) have.push_back(r->target);
        if (want == have && ring) return;
        std::vector<std::shared_ptr<Replica>> next;
        for (auto &t : want) {
            auto it = std::find_if(replicas.begin(), replicas.end(), [&](auto &r) { return r->target == t; });
            next.push_back(it != replicas.end() ? *it : std::make_shared<Replica>(t));
        }
        if (!replicas.empty() || !next.empty())
            parley::log(PARLEY_LOG_INFO, "grpc", "replicas: " + std::to_string(next.size()) + " (" + join(want) + ")");
        replicas = std::move(next); // calls on a dropped replica keep it alive until they finish
        ring = std::make_unique<openai::Ring>(want);
    }

    static std::string join(const std::vector<std::string> &v) {
        std::string s;
        for (auto &x : v) s += (s.empty() ? "" : ", ") + x;
        return s;
    }

    // Health: a channel that cannot connect (TRANSIENT_FAILURE) is down until it can; a replica
    // that failed calls rests for its cool-down. Asking for the state also starts reconnecting.
    bool up(Replica &r, Clock::time_point now) const {
        auto state = r.channel->GetState(true);
        return state != GRPC_CHANNEL_TRANSIENT_FAILURE && state != GRPC_CHANNEL_SHUTDOWN && now >= r.down_until;
    }

    // ---- the worker ----
    void run() {
        std::unique_lock<std::mutex> lock(mu);
        auto next_discovery = Clock::now();
        while (!stopping) {
            const auto now = Clock::now();
            if (now >= next_discovery) {
                refresh_replicas();
                next_discovery = now + std::chrono::duration_cast<Clock::duration>(seconds(discovery_interval_s));
            }
            while (!timers.empty() && timers.begin()->first <= now) {
                ready.push_back(timers.begin()->second);
                timers.erase(timers.begin());
            }
            auto failed = expire(now);
            auto starts = dispatch(now);
            lock.unlock();
            for (auto &f : failed) fail_now(f.call, f.status, std::move(f.why));
            for (auto &[c, r] : starts) start(c, r);
            lock.lock();
            auto wake = next_discovery;
            if (!timers.empty()) wake = std::min(wake, timers.begin()->first);
            if (!ready.empty()) wake = std::min(wake, Clock::now() + std::chrono::milliseconds(50)); // a replica may come up
            cv.wait_until(lock, wake);
        }
    }

    // Calls waiting past their deadline (or cancelled): out of the queue, failed by the caller
    // once the lock is released.
    std::vector<Failure> expire(Clock::time_point now) {
        std::vector<Failure> failed;
        for (auto it = ready.begin(); it != ready.end();) {
            auto c = *it;
            if (c->cancelled || (c->has_deadline && now >= c->deadline)) {
                it = ready.erase(it);
                live.erase(c->id);
                failed.push_back({c, c->cancelled ? PARLEY_ERR_CANCELLED : PARLEY_ERR_UNAVAILABLE,
                                  c->cancelled ? "grpc/backend: cancelled"
                                               : "grpc/backend: deadline passed; last error: " + c->last_error});
            } else {
                ++it;
            }
        }
        return failed;
    }

    std::vector<std::pair<CallPtr, std::shared_ptr<Replica>>> dispatch(Clock::time_point now) {
        std::vector<std::pair<CallPtr, std::shared_ptr<Replica>>> starts;
        if (replicas.empty()) return starts;
        std::vector<openai::ReplicaLoad> loads;
        for (auto &r : replicas) loads.push_back({r->outstanding, up(*r, now), r->outstanding >= max_in_flight});
        while (!ready.empty()) {
            auto c = ready.front();
            openai::RouteInput in{c->q.conversation, affinity, load_factor, -1};
            for (size_t i = 0; i < replicas.size(); ++i)
                if (replicas[i]->target == c->last_failed) in.avoid = static_cast<int>(i);
            const int i = openai::choose_replica(*ring, loads, in, rr);
            if (i < 0) break;
            ready.pop_front();
            auto &r = replicas[static_cast<size_t>(i)];
            ++r->outstanding;
            ++loads[static_cast<size_t>(i)].outstanding;
            loads[static_cast<size_t>(i)].full = r->outstanding >= max_in_flight;
            ++on_wire;
            c->in_flight = true;
            c->ctx = std::make_unique<grpc::ClientContext>();
            starts.emplace_back(c, r);
        }
        return starts;
    }

    // Outside the lock: the RPC, its callback on a gRPC thread.
    void start(const CallPtr &c, const std::shared_ptr<Replica> &r) {
        auto &ctx = *c->ctx;
        if (!application.empty()) ctx.AddMetadata("application", application);
        ctx.AddMetadata("multiplexed_model_id", c->q.conversation ? std::to_string(c->q.conversation) : std::string());
        if (!api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + api_key);
        if (c->has_deadline) ctx.set_deadline(std::chrono::system_clock::now() + (c->deadline - Clock::now()));
        ++c->attempts;
        auto on_done = [this, c, r](grpc::Status s) { done(c, r, std::move(s)); };
        if (c->chat()) r->stub->async()->CreateChatCompletion(&ctx, &c->chat_req, &c->chat_resp, on_done);
        else r->stub->async()->CreateCompletion(&ctx, &c->comp_req, &c->comp_resp, on_done);
    }

    // A gRPC thread. The call's callback runs before `on_wire` drops, so the destructor (which
    // waits for on_wire == 0) never returns while one is running.
    void done(const CallPtr &c, const std::shared_ptr<Replica> &r, grpc::Status s) {
        std::unique_lock<std::mutex> lock(mu);
        --r->outstanding;
        c->in_flight = false;
        const auto now = Clock::now();
        if (s.ok()) {
            ++r->succeeded;
            r->strikes = 0;
            live.erase(c->id);
            lock.unlock();
            deliver(c, now);
            return off_wire();
        }
        ++r->failed;
        c->last_failed = r->target;
        c->last_error = r->target + ": " + std::to_string(s.error_code()) + " " + s.error_message();
        const bool out_of_time = c->has_deadline && now >= c->deadline;
        if (!c->cancelled && !stopping && retryable(s.error_code()) && c->attempts <= max_retries && !out_of_time) {
            if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
                r->strikes = std::min(r->strikes + 1, 6);
                r->down_until = now + std::chrono::duration_cast<Clock::duration>(
                                          seconds(std::min(30.0, cooldown_s * std::pow(2.0, r->strikes - 1))));
            }
            const double jitter = std::uniform_real_distribution<double>(0, 1)(rng);
            const double wait = backoff_initial_s * (std::pow(backoff_factor, c->attempts - 1) + jitter);
            timers.emplace(now + std::chrono::duration_cast<Clock::duration>(seconds(wait)), c);
            lock.unlock();
            return off_wire();
        }
        live.erase(c->id);
        lock.unlock();
        const parley_status st = c->cancelled ? PARLEY_ERR_CANCELLED : status_of(s.error_code());
        fail_now(c, st, "grpc/backend: " + c->last_error + (c->attempts > 1 ? " (after " + std::to_string(c->attempts) + " attempts)" : ""));
        off_wire();
    }

    void off_wire() {
        std::lock_guard<std::mutex> lock(mu);
        --on_wire;
        cv.notify_all();
    }

    void deliver(const CallPtr &c, Clock::time_point now) {
        parley::Completion out;
        const pb::Usage *u = nullptr;
        if (c->chat()) {
            for (auto &ch : c->chat_resp.choices())
                out.choices.push_back({ch.message().content(), finish_code(ch.finish_reason()), 0, {}});
            u = &c->chat_resp.usage();
        } else {
            for (auto &ch : c->comp_resp.choices()) out.choices.push_back({ch.text(), finish_code(ch.finish_reason()), 0, {}});
            u = &c->comp_resp.usage();
        }
        out.prompt_tokens = u->prompt_tokens();
        out.completion_tokens = u->completion_tokens();
        if (out.choices.size() == 1) out.choices[0].completion_tokens = out.completion_tokens;
        out.total_s = seconds(now - c->submitted).count();
        c->done(std::move(out));
    }

    void fail_now(const CallPtr &c, parley_status st, std::string why) {
        parley::Completion out;
        out.status = st;
        out.error = std::move(why);
        out.total_s = seconds(Clock::now() - c->submitted).count();
        c->done(std::move(out));
    }

};

GrpcBackend::GrpcBackend(const parley::Config &config) : impl_(std::make_unique<Impl>(config)) {}
GrpcBackend::~GrpcBackend() = default;

uint64_t GrpcBackend::submit(parley::Request q, Done done) {
    if (q.top_k > 0 || q.min_p > 0)
        throw parley::Error(PARLEY_ERR_UNSUPPORTED, "grpc/backend: Matrix's OpenaiService has no top_k or min_p");
    if (q.stop.size() > 1) throw parley::Error(PARLEY_ERR_UNSUPPORTED, "grpc/backend: Matrix's OpenaiService takes one stop string");
    if (q.prompt.empty() && q.messages.empty()) throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "grpc/backend: no prompt and no messages");
    auto c = std::make_shared<Call>();
    c->submitted = Clock::now();
    const double limit = q.deadline_s > 0 ? q.deadline_s : impl_->timeout_s;
    if (limit > 0) {
        c->has_deadline = true;
        c->deadline = c->submitted + std::chrono::duration_cast<Clock::duration>(seconds(limit));
    }
    if (q.prompt.empty()) {
        fill_sampling(c->chat_req, q, impl_->model);
        for (auto &m : q.messages) {
            auto *pm = c->chat_req.add_messages();
            pm->set_role(m.role);
            pm->set_content(m.content);
        }
    } else {
        fill_sampling(c->comp_req, q, impl_->model);
        c->comp_req.set_prompt(q.prompt);
    }
    c->q = std::move(q);
    c->done = std::move(done);
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) throw parley::Error(PARLEY_ERR_UNAVAILABLE, "grpc/backend: shutting down");
    c->id = ++impl_->next_id;
    impl_->live.emplace(c->id, c);
    impl_->ready.push_back(c);
    impl_->cv.notify_all();
    return c->id;
}

bool GrpcBackend::cancel(uint64_t id) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->live.find(id);
    if (it == impl_->live.end()) return false;
    auto &c = it->second;
    c->cancelled = true;
    if (c->in_flight) {
        c->ctx->TryCancel();
    } else {
        for (auto t = impl_->timers.begin(); t != impl_->timers.end(); ++t)
            if (t->second == c) {
                impl_->ready.push_back(c); // expire() completes it
                impl_->timers.erase(t);
                break;
            }
    }
    impl_->cv.notify_all();
    return true;
}

parley::BackendInfo GrpcBackend::info() { return {impl_->model.empty() ? "grpc" : impl_->model, 0, 0}; }

std::optional<parley::BackendLoad> GrpcBackend::load() {
    std::lock_guard<std::mutex> lock(impl_->mu);
    parley::BackendLoad l;
    l.queued = static_cast<int64_t>(impl_->ready.size() + impl_->timers.size());
    l.running = impl_->on_wire;
    return l;
}

std::vector<ReplicaStatus> GrpcBackend::replicas() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    std::vector<ReplicaStatus> out;
    const auto now = Clock::now();
    for (auto &r : impl_->replicas) out.push_back({r->target, impl_->up(*r, now), r->outstanding, r->succeeded, r->failed});
    return out;
}

} // namespace parley::grpc_backend
