// scripted/backend — a test double for inference backends.
//
// Answers each request from rules matched against the last message (first matching regex wins),
// or with `default_reply`. Replies may contain {turn} (number of messages in the request),
// {agent}, {conversation} and {n} (the sample index). Completions are delivered from a worker
// thread, after an optional fixed latency, exactly like a real asynchronous backend; token counts
// are whitespace-separated words. Use it to test engines and to measure orchestration overhead.
#include <parley/sdk.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <regex>
#include <thread>
#include <unordered_map>

namespace {

int64_t count_words(std::string_view s) {
    int64_t n = 0;
    bool in = false;
    for (char c : s) {
        bool space = c == ' ' || c == '\n' || c == '\t';
        if (!space && !in) ++n;
        in = !space;
    }
    return n;
}

void replace_all(std::string &s, std::string_view from, const std::string &to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

class ScriptedBackend final : public parley::Backend {
  public:
    explicit ScriptedBackend(const parley::Config &cfg)
        : default_reply_(cfg.get("default_reply", "The correct answer is (A).")),
          latency_(std::chrono::microseconds(static_cast<int64_t>(cfg.get("latency_ms", 0.0) * 1000))),
          fail_every_(cfg.get("fail_every", int64_t{0})) {
        auto patterns = cfg.get("match", std::vector<std::string>{});
        auto replies = cfg.get("reply", std::vector<std::string>{});
        if (patterns.size() != replies.size())
            throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "`match` and `reply` must have the same length");
        for (size_t i = 0; i < patterns.size(); ++i) {
            try {
                rules_.push_back({std::regex(patterns[i], std::regex::ECMAScript | std::regex::optimize), replies[i]});
            } catch (const std::regex_error &e) {
                throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "match[" + std::to_string(i) + "]: bad regex: " + e.what());
            }
        }
        worker_ = std::thread([this] { loop(); });
    }

    ~ScriptedBackend() override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }

    uint64_t submit(parley::Request request, Done done) override {
        std::lock_guard<std::mutex> lock(mu_);
        uint64_t id = ++next_id_;
        queue_.push_back({id, std::move(request), std::move(done), std::chrono::steady_clock::now()});
        cv_.notify_one();
        return id;
    }

    bool cancel(uint64_t id) override {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto &p : queue_)
            if (p.id == id) {
                p.cancelled = true;
                return true;
            }
        return false;
    }

    parley::BackendInfo info() override { return {"scripted (test double)", 0, 0}; }

    std::string apply_template(const std::vector<parley::Message> &messages) override {
        std::string s;
        for (auto &m : messages) s += "<|" + m.role + "|>\n" + m.content + "\n";
        return s + "<|assistant|>\n";
    }

  private:
    struct Pending {
        uint64_t id;
        parley::Request request;
        Done done;
        std::chrono::steady_clock::time_point submitted;
        bool cancelled = false;
    };
    struct Rule {
        std::regex pattern;
        std::string reply;
    };

    std::string answer(const parley::Request &r, int sample) const {
        const std::string &last = r.prompt.empty() ? (r.messages.empty() ? r.prompt : r.messages.back().content) : r.prompt;
        std::string reply = default_reply_;
        for (auto &rule : rules_)
            if (std::regex_search(last, rule.pattern)) {
                reply = rule.reply;
                break;
            }
        replace_all(reply, "{turn}", std::to_string(r.messages.size()));
        replace_all(reply, "{agent}", std::to_string(r.agent));
        replace_all(reply, "{conversation}", std::to_string(r.conversation));
        replace_all(reply, "{n}", std::to_string(sample));
        return reply;
    }

    void loop() {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            std::deque<Pending> batch;
            batch.swap(queue_);
            lock.unlock();
            if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
            for (auto &p : batch) {
                parley::Completion c;
                if (p.cancelled || stopping_) {
                    c.status = PARLEY_ERR_CANCELLED;
                    c.error = "cancelled";
                } else if (fail_every_ > 0 && p.id % static_cast<uint64_t>(fail_every_) == 0) {
                    c.status = PARLEY_ERR_UNAVAILABLE;
                    c.error = "scripted failure (fail_every)";
                } else {
                    for (int i = 0; i < p.request.n; ++i) {
                        std::string text = answer(p.request, i);
                        int64_t toks = count_words(text);
                        c.choices.push_back({text, PARLEY_FINISH_STOP, toks});
                        c.completion_tokens += toks;
                    }
                    for (auto &m : p.request.messages) c.prompt_tokens += count_words(m.content);
                    c.prompt_tokens += count_words(p.request.prompt);
                }
                c.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.submitted).count();
                p.done(std::move(c));
            }
            lock.lock();
        }
    }

    std::string default_reply_;
    std::vector<Rule> rules_;
    std::chrono::microseconds latency_;
    int64_t fail_every_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Pending> queue_;
    uint64_t next_id_ = 0;
    bool stopping_ = false;
    std::thread worker_;
};

const parley_param kParams[] = {
    {"default_reply", PARLEY_TYPE_STRING, 0, "The correct answer is (A).", "reply when no rule matches"},
    {"match", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "regexes tried against the last message, in order"},
    {"reply", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "reply for each regex in `match` ({turn}, {agent}, {conversation}, {n})"},
    {"latency_ms", PARLEY_TYPE_FLOAT, 0, "0", "delay before each batch of completions"},
    {"fail_every", PARLEY_TYPE_INT, 0, "0", "fail every k-th request with PARLEY_ERR_UNAVAILABLE; 0 = never"},
};

} // namespace

PARLEY_PLUGIN("scripted", "1.0.0", "Test double: an instant backend answering from rules",
              parley::backend<ScriptedBackend>("backend", 1, "Instant rule-based replies (test double, no model)", kParams));
