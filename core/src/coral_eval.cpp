// core/coral_eval: Coral's collaborative reasoning, many conversations at once.
//
// Two agents (by default one model in both roles) discuss an item: the student's task message is
// turn 0, the teacher speaks first, each agent sees its own turns as `assistant` and its partner's
// as `user`, up to `max_turns` generated turns. After every turn the belief is extracted (the
// domain's LLM extractor prompt on a backend, or its rule-based extractor), scored by the domain's
// matcher, and the conversation stops when the agents agree (profile "coral": the last two turns
// hold equal valid beliefs; "matrix": each role's latest valid belief). Conversations advance
// independently (no batch barriers); a finished one is written at once to records_<domain>.jsonl
// in Coral's record format, and a re-run skips finished (item, trial) pairs.
#include <parley/core/coral_metrics.hpp>
#include <parley/core/host_services.hpp>
#include <parley/core/json_writer.hpp>
#include <parley/core/hash.hpp>
#include <parley/core/log.hpp>
#include <parley/core/progress.hpp>
#include <parley/core/records.hpp>
#include "admission.hpp"
#include "eval_common.hpp"
#include "py_random.hpp"
#include <parley/core/run.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <exception>
#include <unordered_set>

namespace parley::core {
namespace {

using json = nlohmann::json;

template <class T> T cfg(const toml::table &t, const std::string &key, T fallback) { return t[key].value_or(fallback); }

// "stories260K.gguf" -> "stories260K_gguf": Coral's model_name.split("/")[-1] with - and . replaced.
std::string short_model_name(const std::string &model) {
    std::string s = model.substr(model.find_last_of('/') == std::string::npos ? 0 : model.find_last_of('/') + 1);
    for (char &c : s)
        if (c == '-' || c == '.') c = '_';
    return s.empty() ? "model" : s;
}

struct Role {
    std::string name;
    Backend *backend = nullptr;
    std::string system_prompt; // rendered per item: "collaborate", "cot", "none" or literal text
    double temperature = 0.2;
    int32_t max_tokens = 1024;
};

// The agent id extractor calls carry (the speaking roles are 0, 1, ...).
constexpr uint32_t kExtractorAgent = 0xFFFFFFFFu;

// Everything an LLM extractor call leaves behind (absent with rule-based extraction).
struct ExtractorIO {
    std::string prompt, response;
};

// One turn, kept small: at 100k conversations in flight, bytes per turn are the memory budget.
struct Turn {
    std::string content;          // the text (the error message for a failed request)
    const std::string *belief = nullptr; // interned normalised belief
    std::unique_ptr<ExtractorIO> extractor;
    int32_t prompt_tokens = 0, cached_tokens = 0;
    int32_t completion_tokens = 0;         // this candidate's; -1 unknown (a server's n > 1 reply)
    int32_t request_completion_tokens = 0; // the whole request's (all its candidates)
    float score = 0.0f;
    uint8_t role = 0;             // index into roles; the asker of turn 0 too
    int8_t finish = PARLEY_FINISH_NONE;
    bool status_ok = true, annotated = false, valid = false, extractor_ok = true, agreement = false;
    bool stop_conv = false;       // tree sampling: would this candidate end the conversation?
    std::unique_ptr<std::vector<Turn>> siblings; // tree sampling: the candidates not chosen
};

// Strings many conversations share (system prompts, beliefs), stored once.
class InternPool {
  public:
    const std::string *intern(std::string s) { return &*pool_.insert(std::move(s)).first; }

  private:
    std::unordered_set<std::string> pool_; // node-based: element addresses are stable
};

enum class Stage { Idle, Speaking, Extracting, Done };

struct Conversation {
    const std::string *domain_node = nullptr;
    Domain *domain = nullptr;
    const std::string *system[2] = {nullptr, nullptr}; // interned, per role
    size_t index = 0;
    int trial = 0;
    uint64_t seed = 0;
    uint64_t id = 0; // affinity id
    int64_t resident = 0; // the tokens admission counts for it (every agent's view of the history)
    size_t next_role = 0;
    std::vector<Turn> turns;
    std::vector<Turn> candidates; // this turn's samples, while their beliefs are extracted
    int pending = 0;              // extractor calls outstanding for them
    Stage stage = Stage::Idle;
    std::string item_id;
};

struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<uint64_t, GenerationResult>> ready; // tag: slot << 8 | candidate
    void push(uint64_t tag, GenerationResult &&r) {
        bool was_empty;
        {
            std::lock_guard<std::mutex> lock(mu);
            was_empty = ready.empty();
            ready.emplace_back(tag, std::move(r));
        }
        if (was_empty) cv.notify_one(); // the consumer takes everything queued at once
    }
};

// Finished conversations go to a thread of their own, which computes their metrics, writes their
// records (JSON escaping and file writes are most of a fast run's work) and keeps the per-domain
// accumulators; the scheduling thread only hands them over. Bounded: a scheduler that outruns
// the disk waits.
template <class Job>
class RecordThread {
  public:
    using Work = std::function<void(Job &)>;
    using Idle = std::function<void()>;
    RecordThread(Work work, Idle idle) : work_(std::move(work)), idle_(std::move(idle)), thread_([this] { loop(); }) {}
    ~RecordThread() { stop(); } // (an error already thrown elsewhere wins; this one is dropped)

    void push(Job &&job) {
        std::unique_lock<std::mutex> lock(mu_);
        space_.wait(lock, [&] { return queue_.size() < kCapacity || error_; });
        rethrow_locked();
        queue_.push_back(std::move(job));
        if (queue_.size() == 1) ready_.notify_one();
    }

    // Waits for every record to be written; rethrows what the thread failed with.
    void close() {
        stop();
        std::lock_guard<std::mutex> lock(mu_);
        rethrow_locked();
    }

  private:
    static constexpr size_t kCapacity = 4096;

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            closing_ = true;
        }
        ready_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    void rethrow_locked() {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    void loop() {
        std::vector<Job> batch;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mu_);
                ready_.wait_for(lock, std::chrono::milliseconds(100), [&] { return !queue_.empty() || closing_; });
                if (queue_.empty() && closing_) break;
                batch.swap(queue_);
            }
            space_.notify_all();
            bool failed = false;
            try {
                for (auto &job : batch) work_(job);
                idle_();
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                error_ = std::current_exception();
                closing_ = failed = true;
            }
            batch.clear();
            if (failed) {
                space_.notify_all();
                break;
            }
        }
    }

    Work work_;
    Idle idle_;
    std::mutex mu_;
    std::condition_variable ready_, space_;
    std::vector<Job> queue_;
    bool closing_ = false;
    std::exception_ptr error_;
    std::thread thread_; // last: starts once the rest is built
};

const char *finish_name(int32_t f) {
    switch (f) {
    case PARLEY_FINISH_STOP: return "stop";
    case PARLEY_FINISH_LENGTH: return "length";
    case PARLEY_FINISH_CANCELLED: return "cancelled";
    default: return "error";
    }
}

} // namespace

void run_coral_eval(RunContext &ctx) {
    const toml::table &c = ctx.node.config;
    const AgreementProfile profile = parse_profile(cfg<std::string>(c, "profile", "coral"));
    const int max_turns = static_cast<int>(cfg<int64_t>(c, "max_turns", 20));
    const double top_p = cfg<double>(c, "top_p", 0.9);
    const int64_t top_k = cfg<int64_t>(c, "top_k", 0);
    const double min_p = cfg<double>(c, "min_p", 0.0);
    const int64_t base_seed = cfg<int64_t>(c, "seed", 42);
    const std::string seed_mode = cfg<std::string>(c, "seed_mode", "per_conversation");
    const int64_t trials = std::max<int64_t>(1, cfg<int64_t>(c, "trials", 1));
    const std::string extraction = cfg<std::string>(c, "extraction", "llm");
    const int32_t extractor_max_tokens = static_cast<int32_t>(cfg<int64_t>(c, "extractor_max_tokens", 32));
    const std::string first_role = cfg<std::string>(c, "first_role", "student");
    const int beam = static_cast<int>(cfg<int64_t>(c, "beam", 1)); // tree sampling: candidates per turn
    // Per-conversation records (as lm-eval's --log_samples): off, a run keeps only its metrics and
    // results, and cannot resume.
    const bool keep_records = cfg<bool>(c, "records", true);
    if (!keep_records)
        for (auto &other : ctx.graph.nodes)
            for (auto &[port, sources] : other.inputs)
                for (auto &src : sources)
                    if (src == ctx.node.name || src.rfind(ctx.node.name + ".", 0) == 0)
                        throw std::runtime_error(fmt::format("nodes.{}.records = false, but node '{}' reads its records (port '{}')",
                                                             ctx.node.name, other.name, port));
    if (beam < 1 || beam > 255) throw std::runtime_error(fmt::format("nodes.{}.beam must be between 1 and 255", ctx.node.name));
    std::vector<std::string> stop;
    if (auto *a = c["stop"].as_array())
        for (auto &s : *a) stop.push_back(s.value_or(std::string()));
    if (extraction != "rule" && extraction != "llm")
        throw std::runtime_error(fmt::format("nodes.{}.extraction: '{}' is neither \"rule\" nor \"llm\"", ctx.node.name, extraction));
    if (seed_mode != "per_conversation" && seed_mode != "fixed")
        throw std::runtime_error(fmt::format("nodes.{}.seed_mode: '{}' is neither \"per_conversation\" nor \"fixed\"", ctx.node.name, seed_mode));
    if (max_turns < 1) throw std::runtime_error(fmt::format("nodes.{}.max_turns must be at least 1", ctx.node.name));
    if (base_seed < 0) throw std::runtime_error(fmt::format("nodes.{}.seed must be between 0 and 2^63 - 1", ctx.node.name));

    const auto &inputs = ctx.node.inputs;
    auto backend_of = [&](const char *port, Backend *fallback) -> Backend * {
        auto it = inputs.find(port);
        return it == inputs.end() ? fallback : ctx.backends.at(it->second.front());
    };
    Backend *teacher_backend = backend_of("teacher", nullptr);
    Backend *student_backend = backend_of("student", teacher_backend);
    Backend *extractor = backend_of("extractor", teacher_backend);

    // Roles speak in this order after turn 0 (asked by `first_role`).
    std::vector<Role> roles(2); // (the runtime's turn structures index roles with one byte)
    roles[0].name = "teacher";
    roles[0].backend = teacher_backend;
    roles[1].name = "student";
    roles[1].backend = student_backend;
    for (auto &r : roles) {
        r.system_prompt = cfg<std::string>(c, r.name + "_system_prompt", cfg<std::string>(c, "system_prompt", "collaborate"));
        r.temperature = cfg<double>(c, r.name + "_temperature", cfg<double>(c, "temperature", 0.2));
        r.max_tokens = static_cast<int32_t>(cfg<int64_t>(c, r.name + "_max_tokens", cfg<int64_t>(c, "max_tokens", 1024)));
    }
    if (first_role != "student" && first_role != "teacher")
        throw std::runtime_error(fmt::format("nodes.{}.first_role: '{}' is neither \"student\" nor \"teacher\"", ctx.node.name, first_role));
    const size_t first_speaker = first_role == "student" ? 0 : 1; // the other role answers turn 0

    // Admission: a hard cap, an optional budget of resident tokens, and the backends' own reports
    // of their queue and KV cache (see admission.hpp); live conversations always come first.
    AdmissionController::Limits limits;
    limits.max_conversations = cfg<int64_t>(
        c, "max_conversations", std::max<int64_t>(64, 4 * static_cast<int64_t>(std::max(teacher_backend->max_parallel(), 16))));
    limits.max_tokens_in_flight = cfg<int64_t>(c, "max_tokens_in_flight", 0);
    AdmissionController admission(limits);
    // Before its first reply a conversation is counted at its speaker's reply budget.
    const int64_t first_turn_tokens = roles[first_speaker].max_tokens;
    if (cfg<bool>(c, "backend_feedback", true))
        for (Backend *b : {teacher_backend, student_backend, extraction == "llm" ? extractor : teacher_backend}) admission.watch(*b);

    fs::create_directories(ctx.output_dir);
    const auto started = std::chrono::steady_clock::now();

    struct DomainState {
        std::string extractor_name, matcher_name;
        std::string annotation_open, matcher_open; // record fragments around the rater names
        RaterNames names;
        int32_t score_type = PARLEY_SCORE_JSON_FLOAT;
        MetricsAccumulator metrics;
        std::unique_ptr<JsonlAppender> writer;
        size_t resumed = 0;
    };
    std::map<std::string, DomainState> states;
    std::vector<Conversation> pending; // not yet started, in item order
    // What this run owes (every (item, trial) of its shard), for `parley merge` to check.
    json manifest = {{"node", ctx.node.name}, {"kind", "records"}, {"domains", json::object()}};
    if (ctx.shard) manifest["shard"] = {ctx.shard->first, ctx.shard->second};
    for (auto &domain_node : inputs.at("domains")) {
        Domain *d = ctx.domains.at(domain_node);
        DomainState &st = states[domain_node];
        std::string extractor_class = d->info().extractor_name.empty() ? "ExtractionPromptingEvaluator" : d->info().extractor_name;
        st.extractor_name = (extraction == "llm" ? short_model_name(extractor->model()) : std::string("RuleBased")) + "-" + extractor_class;
        st.matcher_name = d->info().matcher_name.empty() ? "MatchEvaluator" : d->info().matcher_name;
        st.score_type = d->info().score_json_type;
        st.names = {st.extractor_name, st.matcher_name};
        st.annotation_open = ",\"annotation\":{";
        JsonWriter::escape(st.annotation_open, st.extractor_name);
        st.annotation_open += ":{\"score\":";
        st.matcher_open = "}},";
        JsonWriter::escape(st.matcher_open, st.matcher_name);
        st.matcher_open += ":{\"score\":";
        fs::path records = ctx.output_dir / fmt::format("records_{}.jsonl", domain_node);
        std::set<std::pair<std::string, int64_t>> done;
        for (auto &r : read_jsonl_for_resume(records)) {
            const json &p = r.contains("parley") ? r["parley"] : json::object();
            auto key = std::make_pair(p.value("id", std::string()), p.value("trial", int64_t{0}));
            if (!done.insert(key).second) continue;
            st.metrics.add(r.contains("metrics") ? r["metrics"] : conversation_metrics(r, max_turns, profile));
        }
        st.resumed = done.size();
        if (keep_records) {
            st.writer = std::make_unique<JsonlAppender>(records);
            ctx.outputs[ctx.node.name]["records"].push_back(records);
        }
        json expected = json::array();
        for (size_t i = 0; i < d->size(); ++i) {
            ItemInfo info = d->item(i);
            if (!ctx.owns(domain_node, info.id)) continue; // another shard's item
            for (int64_t t = 0; t < trials; ++t) expected.push_back({info.id, t});
            for (int64_t t = 0; t < trials; ++t) {
                if (done.count({info.id, t})) continue;
                Conversation conv;
                conv.domain_node = &domain_node;
                conv.domain = d;
                conv.index = i;
                conv.trial = static_cast<int>(t);
                conv.item_id = info.id;
                conv.seed = seed_mode == "fixed" ? static_cast<uint64_t>(base_seed) : trial_seed(base_seed, domain_node, info.id, t);
                conv.id = splitmix(fnv1a(ctx.node.name + "\x1f" + domain_node + "\x1f" + info.id) + t) | 1;
                pending.push_back(std::move(conv));
            }
        }
        if (st.resumed)
            logger().info("[{}] {}: resuming: {} finished conversations kept", ctx.node.name, domain_node, st.resumed);
        manifest["domains"][domain_node] = {{"total", d->size() * static_cast<size_t>(trials)}, {"expected", expected},
                                            {"file", records.filename().string()}};
    }

    write_json_atomic(ctx.output_dir / "manifest.json", manifest);
    const size_t total = pending.size();
    const auto t_ready = std::chrono::steady_clock::now();
    Inbox inbox;
    InternPool strings;
    std::vector<Conversation> slots; // live conversations
    std::vector<size_t> free_slots;
    size_t next_pending = 0, live = 0, finished = 0, peak_live = 0;
    int64_t tokens = 0, turns_done = 0;
    Progress progress(ctx.node.name, total);
    const std::string *error_belief = strings.intern("Error: extraction network error"); // Coral's wording
    FailureLog failures(ctx.node.name);
    auto where = [](const Conversation &cv) {
        return fmt::format("{} item {} trial {} turn {}", *cv.domain_node, cv.item_id, cv.trial, cv.turns.size());
    };
    static const std::string kSystem = "system", kUser = "user", kAssistant = "assistant", kHi = "hi";

    auto system_text = [&](const Conversation &cv, const Role &r) -> std::string {
        if (r.system_prompt == "collaborate") return cv.domain->render(cv.index, PARLEY_TEXT_SYSTEM_COLLABORATE);
        if (r.system_prompt == "cot") return cv.domain->render(cv.index, PARLEY_TEXT_SYSTEM_COT);
        if (r.system_prompt == "none") return {};
        return r.system_prompt;
    };

    // Requests made while a batch of completions is handled are sent together at its end: a
    // backend's worker then wakes once per batch, not once per request. (Their message views
    // point into conversation histories and interned strings, which do not move meanwhile.)
    struct Staged {
        Backend *backend = nullptr;
        uint64_t tag = 0;
        GenerationRequest q;
    };
    std::vector<Staged> staged; // reused: requests keep their vectors' capacity
    size_t n_staged = 0;
    auto submit_to = [&](Backend *b, size_t slot, size_t candidate, const GenerationRequest &q) {
        if (n_staged == staged.size()) staged.emplace_back();
        Staged &st = staged[n_staged++];
        st.backend = b;
        st.tag = (static_cast<uint64_t>(slot) << 8) | candidate;
        st.q = q;
    };
    auto send_staged = [&] {
        for (size_t i = 0; i < n_staged; ++i) {
            const uint64_t tag = staged[i].tag;
            try {
                staged[i].backend->submit(staged[i].q, [&inbox, tag](GenerationResult &&res) { inbox.push(tag, std::move(res)); });
            } catch (const ComponentError &e) {
                GenerationResult res;
                res.status = e.code();
                res.error = e.what();
                inbox.push(tag, std::move(res));
            }
        }
        n_staged = 0;
    };

    GenerationRequest q; // reused: its vectors keep their capacity
    auto speak = [&](size_t slot) {
        Conversation &cv = slots[slot];
        const Role &r = roles[cv.next_role];
        q.messages.clear();
        const std::string &sys = *cv.system[cv.next_role];
        if (!sys.empty()) q.messages.push_back({kSystem, sys});
        // Perspective flip: own turns are the assistant's, everyone else's the user's.
        for (size_t i = 0; i < cv.turns.size(); ++i) {
            const bool own = cv.turns[i].role == cv.next_role;
            if (i == 0 && own && profile == AgreementProfile::Matrix) q.messages.push_back({kUser, kHi}); // Matrix P2P's dummy turn
            q.messages.push_back({own ? kAssistant : kUser, cv.turns[i].content});
        }
        q.temperature = r.temperature;
        q.top_p = top_p;
        q.top_k = static_cast<int32_t>(top_k);
        q.min_p = min_p;
        q.seed = seed_mode == "fixed" ? cv.seed : request_seed(cv.seed, cv.turns.size());
        q.max_tokens = r.max_tokens;
        q.stop = stop;
        q.conversation = cv.id;
        q.agent = static_cast<uint32_t>(cv.next_role);
        q.n = beam; // tree sampling: k candidates share the prompt's prefix
        cv.stage = Stage::Speaking;
        submit_to(r.backend, slot, 0, q);
    };

    auto extract = [&](size_t slot, size_t k) {
        Conversation &cv = slots[slot];
        Turn &t = cv.candidates[k];
        t.extractor = std::make_unique<ExtractorIO>();
        t.extractor->prompt = cv.domain->render(cv.index, PARLEY_TEXT_EXTRACTOR_PROMPT, t.content);
        const std::string *sys = strings.intern(cv.domain->render(cv.index, PARLEY_TEXT_EXTRACTOR_SYSTEM));
        GenerationRequest eq;
        eq.messages = {{kSystem, *sys}, {kUser, t.extractor->prompt}};
        set_extractor_sampling(eq, extractor_max_tokens);
        // Keyed by conversation, as an agent of its own: a backend keeps the extractor's
        // instructions resident next to the conversation (and a router sends it to that replica).
        eq.conversation = cv.id;
        eq.agent = kExtractorAgent;
        cv.stage = Stage::Extracting;
        submit_to(extractor, slot, k, eq);
    };

    // The record, written straight to JSON (Coral's field names and types), and its metrics
    // computed from the same facts `parley metrics` reads back from that JSON.
    struct Finished {
        Conversation cv;
        ItemInfo item;
    };
    std::vector<std::string> role_open; // {"role":"<name>","content":
    for (auto &r : roles) {
        role_open.emplace_back("{\"role\":");
        JsonWriter::escape(role_open.back(), r.name);
        role_open.back() += ",\"content\":";
    }
    std::string line;             // record thread only
    std::vector<TurnFacts> facts; // record thread only
    auto write_record = [&](Finished &job) {
        const Conversation &cv = job.cv;
        DomainState &st = states.at(*cv.domain_node);
        facts.clear();
        for (size_t i = 0; i < cv.turns.size(); ++i) {
            const Turn &t = cv.turns[i];
            TurnFacts f;
            f.role = roles[t.role].name;
            f.status_ok = i == 0 ? -1 : (t.status_ok ? 1 : 0);
            f.completion_tokens = t.status_ok ? t.completion_tokens : 0;
            if (t.annotated) {
                f.has_answer = f.ext_has_answer = true;
                f.answer = f.ext_answer = *t.belief;
                f.ext_annotated = f.m_annotated = true;
                f.ext_score = t.valid ? 1.0 : 0.0;
                f.ext_status_ok = t.extractor_ok ? 1 : 0;
                f.m_score = t.score;
                f.m_status_ok = 1;
            }
            facts.push_back(f);
        }
        Metrics metrics = compute_metrics(facts, st.names, max_turns, profile);
        st.metrics.add(metrics);

        if (!st.writer) return; // records = false: metrics only
        line.clear();
        JsonWriter w(line);
        w.begin_object().key("conv_result").begin_array();
        // Each turn in Coral's shape, its fixed parts appended as prepared fragments (a record of a
        // tree-sampled conversation holds a hundred turns: this is the record thread's hot loop).
        auto put_bool = [](std::string &o, bool b) { o += b ? "true" : "false"; };
        auto put_score = [&](std::string &o, float score) {
            if (st.score_type == PARLEY_SCORE_JSON_BOOL) put_bool(o, score >= 1.0f);
            else if (st.score_type == PARLEY_SCORE_JSON_INT) JsonWriter(o).value(static_cast<int64_t>(score));
            else JsonWriter(o).value(static_cast<double>(score));
        };
        auto write_turn = [&](auto &self, const Turn &t, bool first) -> void {
            std::string &o = line;
            o += role_open[t.role];
            JsonWriter::escape(o, t.content);
            o += ",\"info\":{";
            if (first) {
                o += "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0,\"completion_tokens\":0}";
            } else if (!t.status_ok) {
                o += "\"status_ok\":false,\"error\":";
                JsonWriter::escape(o, t.content);
            } else {
                // Tree sampling: every candidate carries the whole request's usage, as Coral
                // records it; the candidate's own count is in Parley's block (null: unknown).
                o += "\"status_ok\":true,\"usage\":{\"prompt_tokens\":";
                JsonWriter(o).value(int64_t{t.prompt_tokens});
                o += ",\"completion_tokens\":";
                JsonWriter(o).value(int64_t{beam > 1 ? t.request_completion_tokens : t.completion_tokens});
                o += "},\"parley\":{\"cached_tokens\":";
                JsonWriter(o).value(int64_t{t.cached_tokens});
                if (beam > 1) {
                    o += ",\"completion_tokens\":";
                    if (t.completion_tokens < 0) JsonWriter(o).null();
                    else JsonWriter(o).value(int64_t{t.completion_tokens});
                }
                o += ",\"finish_reason\":\"";
                o += finish_name(t.finish);
                o += "\"}";
            }
            if (t.annotated) {
                o += st.annotation_open; // ,"annotation":{"<extractor>":{"score":
                if (t.extractor_ok) put_bool(o, t.valid);
                else o += "0.0"; // extraction_evaluators.py: a failed extractor call scores the float 0.0
                o += ",\"info\":{\"prompt\":";
                JsonWriter::escape(o, t.extractor ? std::string_view(t.extractor->prompt) : std::string_view());
                o += ",\"response\":";
                JsonWriter::escape(o, t.extractor ? std::string_view(t.extractor->response) : std::string_view());
                o += ",\"extracted_answer\":";
                JsonWriter::escape(o, *t.belief);
                o += ",\"agreement\":";
                put_bool(o, t.agreement);
                o += ",\"status_ok\":";
                put_bool(o, t.extractor_ok);
                o += st.matcher_open; // }},"<matcher>":{"score":
                put_score(o, t.score);
                o += ",\"info\":{\"metrics\":{\"em\":";
                put_score(o, t.score);
                o += "},\"status_ok\":true}}},\"extracted_answer\":";
                JsonWriter::escape(o, *t.belief);
            }
            if (beam > 1 && !first) {
                o += ",\"stop_conv\":";
                put_bool(o, t.stop_conv);
                if (t.siblings) {
                    o += ",\"siblings\":[";
                    for (size_t k = 0; k < t.siblings->size(); ++k) {
                        if (k) o += ',';
                        self(self, (*t.siblings)[k], false);
                    }
                    o += ']';
                }
            }
            o += "}}";
        };
        for (size_t i = 0; i < cv.turns.size(); ++i) {
            if (i) line += ',';
            write_turn(write_turn, cv.turns[i], i == 0);
        }
        w.end_array();
        // metadata: the item's source row plus what Coral adds.
        const ItemInfo &item = job.item;
        std::string_view meta = item.metadata_json;
        while (!meta.empty() && (meta.back() == ' ' || meta.back() == '\n')) meta.remove_suffix(1);
        std::string extra; // metadata: the item's source row plus what Coral adds
        JsonWriter m(extra);
        m.key("init_prompt").value(cv.turns.empty() ? std::string_view() : std::string_view(cv.turns[0].content));
        m.key("teacher_inst").value(*cv.system[0]).key("student_inst").value(*cv.system[1]);
        std::string metadata;
        if (meta.size() >= 2 && meta.front() == '{' && meta.back() == '}') {
            metadata.assign(meta.substr(0, meta.size() - 1));
            if (meta.find_first_not_of(" \n\t", 1) != meta.size() - 1) metadata += ',';
        } else {
            metadata = "{";
        }
        metadata += extra;
        metadata += '}';
        w.key("metadata").raw(metadata);
        std::string metrics_json;
        metrics.append_json(metrics_json);
        w.key("metrics").raw(metrics_json);
        w.key("parley").begin_object().key("id").value(cv.item_id).key("trial").value(cv.trial).key("domain").value(*cv.domain_node);
        w.key("seed").value(cv.seed).key("gold").value(item.gold).key("profile").value(profile == AgreementProfile::Coral ? "coral" : "matrix");
        w.key("max_turns").value(int64_t{max_turns});
        w.end_object().end_object();
        st.writer->append_line(line);
    };
    RecordThread<Finished> records(write_record, [&] {
        for (auto &[name, st] : states)
            if (st.writer) st.writer->poll();
    });

    auto finish = [&](size_t slot) {
        Conversation &cv = slots[slot];
        admission.on_finish(cv.resident);
        ItemInfo item = cv.domain->item(cv.index); // domain calls stay on this thread (contract P12)
        records.push(Finished{std::move(cv), std::move(item)});
        cv = Conversation{};
        cv.stage = Stage::Done;
        free_slots.push_back(slot);
        --live;
        ++finished;
    };

    // Sets a candidate's belief (from the extractor's reply, or by rule) and its matcher score.
    auto annotate = [&](Conversation &cv, Turn &t, const GenerationResult *extractor_result) {
        t.annotated = true;
        std::pair<std::string, bool> belief;
        if (extractor_result) {
            if (extractor_result->status == PARLEY_OK && !extractor_result->choices.empty()) {
                t.extractor->response = extractor_result->choices[0].text;
                belief = cv.domain->extract(cv.index, PARLEY_EXTRACT_LLM_OUTPUT, t.extractor->response);
                t.belief = strings.intern(std::move(belief.first));
                t.valid = belief.second;
            } else { // as extraction_evaluators.py: the error text as the response, score 0.0
                t.extractor->response = extractor_result->error.empty() ? "request failed" : extractor_result->error;
                failures.note("extractor request", t.extractor->response, where(cv));
                t.belief = error_belief;
                t.valid = false;
                t.extractor_ok = false;
            }
        } else {
            belief = cv.domain->extract(cv.index, PARLEY_EXTRACT_RULE, t.content);
            t.belief = strings.intern(std::move(belief.first));
            t.valid = belief.second;
        }
        t.score = static_cast<float>(cv.domain->score(cv.index, *t.belief));
    };

    // Would the agents agree if `last` followed `turns`? The same rule the metrics apply to records.
    // Would `last`, spoken after `turns`, end the conversation? (agreement.hpp; a turn without a
    // valid belief never does)
    auto agrees = [&](const std::vector<Turn> &turns, const Turn &last) {
        auto at = [&](size_t k) -> const Turn & { return k < turns.size() ? turns[k] : last; };
        auto role = [&](size_t k) { return at(k).role; };
        auto belief = [&](size_t k) { return at(k).annotated && at(k).valid ? at(k).belief : nullptr; };
        return last.annotated && last.valid && agree_after(turns.size(), role, belief, profile);
    };

    // Tree sampling with seed_mode "fixed" picks as Coral's rand_pick_one does: random.randint on
    // Python's global Mersenne Twister, one stream per run (draws in the order turns complete).
    PyRandom fixed_picks(static_cast<uint64_t>(base_seed));
    auto pick_candidate = [&](const Conversation &cv) -> size_t {
        const size_t k = cv.candidates.size();
        if (seed_mode == "fixed") return static_cast<size_t>(fixed_picks.randint(0, static_cast<int64_t>(k) - 1));
        return splitmix(cv.seed ^ (0x7c3a9e1full * cv.turns.size())) % k;
    };

    // Every candidate of this turn is annotated: keep one (the only one without tree sampling, a
    // seeded random pick with it), file the rest as its siblings, and go on or stop.
    auto decide = [&](size_t slot) {
        Conversation &cv = slots[slot];
        turns_done += static_cast<int64_t>(cv.candidates.size());
        const bool tree = beam > 1;
        size_t pick = 0;
        if (tree) {
            // As Coral: stop_conv is asked of every candidate, failed ones too (their error text
            // was extracted), and marks the candidate's own annotation as agreeing.
            for (auto &cand : cv.candidates) cand.stop_conv = cand.agreement = agrees(cv.turns, cand);
            pick = pick_candidate(cv);
        }
        Turn chosen = std::move(cv.candidates[pick]);
        if (tree) {
            chosen.siblings = std::make_unique<std::vector<Turn>>();
            for (size_t k = 0; k < cv.candidates.size(); ++k)
                if (k != pick) chosen.siblings->push_back(std::move(cv.candidates[k]));
        }
        cv.candidates.clear();
        const bool failed = !chosen.status_ok;
        // Single sampling stops at a failed turn without asking stop_conv; tree sampling goes on.
        const bool agree = tree ? chosen.stop_conv : !failed && agrees(cv.turns, chosen);
        chosen.agreement = agree;
        if (chosen.status_ok && chosen.prompt_tokens > 0) {
            const int64_t now = (int64_t{chosen.prompt_tokens} + std::max(chosen.completion_tokens, 0)) * static_cast<int64_t>(roles.size());
            admission.on_grow(now - cv.resident);
            cv.resident = now;
        }
        cv.turns.push_back(std::move(chosen));
        // A failed request ends a conversation (conv_err); in tree sampling Coral carries on.
        if ((failed && !tree) || agree || static_cast<int>(cv.turns.size()) - 1 >= max_turns) {
            finish(slot);
            return;
        }
        cv.next_role = (cv.next_role + 1) % roles.size();
        speak(slot);
    };

    auto start = [&](Conversation &&cv) {
        size_t slot;
        if (!free_slots.empty()) {
            slot = free_slots.back();
            free_slots.pop_back();
            slots[slot] = std::move(cv);
        } else {
            slot = slots.size();
            slots.push_back(std::move(cv));
        }
        Conversation &c2 = slots[slot];
        c2.resident = first_turn_tokens;
        for (size_t r = 0; r < roles.size(); ++r) c2.system[r] = strings.intern(system_text(c2, roles[r]));
        c2.turns.reserve(static_cast<size_t>(std::min(max_turns, 20)) + 1);
        Turn t0;
        t0.role = static_cast<uint8_t>(first_speaker == 0 ? 1 : 0); // the asker
        t0.content = c2.domain->render(c2.index, first_speaker == 0 ? PARLEY_TEXT_TASK : PARLEY_TEXT_TASK_TEACHER_FIRST);
        c2.turns.push_back(std::move(t0));
        c2.next_role = first_speaker;
        ++live;
        speak(slot);
    };

    std::deque<std::pair<uint64_t, GenerationResult>> batch;
    while (finished < total) {
        // Live conversations come first: new ones start only while there is room.
        while (next_pending < total && admission.may_start(first_turn_tokens)) {
            admission.on_start(first_turn_tokens);
            start(std::move(pending[next_pending++]));
        }
        peak_live = std::max(peak_live, live);
        send_staged();
        batch.clear();
        {
            std::unique_lock<std::mutex> lock(inbox.mu);
            inbox.cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return !inbox.ready.empty(); });
            batch.swap(inbox.ready);
        }
        for (auto &[tag, res] : batch) {
            const size_t slot = static_cast<size_t>(tag >> 8), k = static_cast<size_t>(tag & 0xff);
            Conversation &cv = slots[slot];
            if (cv.stage == Stage::Speaking) {
                cv.candidates.clear();
                if (res.status == PARLEY_OK && !res.choices.empty()) {
                    tokens += res.completion_tokens;
                    for (auto &choice : res.choices) {
                        Turn t;
                        t.role = static_cast<uint8_t>(cv.next_role);
                        t.content = std::move(choice.text);
                        t.prompt_tokens = static_cast<int32_t>(res.prompt_tokens);
                        t.cached_tokens = static_cast<int32_t>(res.cached_tokens);
                        t.completion_tokens = static_cast<int32_t>(res.choices.size() == 1 ? res.completion_tokens : choice.completion_tokens);
                        t.request_completion_tokens = static_cast<int32_t>(res.completion_tokens);
                        t.finish = static_cast<int8_t>(choice.finish_reason);
                        cv.candidates.push_back(std::move(t));
                    }
                } else { // as Coral: one error candidate per sample asked for
                    const std::string error = res.error.empty() ? "request failed" : res.error;
                    failures.note("request", error, where(cv));
                    for (int b = 0; b < beam; ++b) {
                        Turn t;
                        t.role = static_cast<uint8_t>(cv.next_role);
                        t.status_ok = false;
                        t.content = error;
                        cv.candidates.push_back(std::move(t));
                    }
                }
                if (extraction == "llm") {
                    cv.pending = static_cast<int>(cv.candidates.size());
                    for (size_t c2 = 0; c2 < cv.candidates.size(); ++c2) extract(slot, c2);
                } else {
                    for (auto &cand : cv.candidates) annotate(cv, cand, nullptr);
                    decide(slot);
                }
            } else if (cv.stage == Stage::Extracting && k < cv.candidates.size()) {
                annotate(cv, cv.candidates[k], &res);
                if (--cv.pending == 0) decide(slot);
            }
        }
        send_staged();
        progress.update(finished, live, tokens);
    }
    const auto t_loop = std::chrono::steady_clock::now();
    failures.summary();
    records.close();
    logger().debug("[{}] {:.3f} s setting up, {:.3f} s in conversations, {:.3f} s finishing records", ctx.node.name,
                   std::chrono::duration<double>(t_ready - started).count(), std::chrono::duration<double>(t_loop - t_ready).count(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t_loop).count());
    for (auto &[name, st] : states)
        if (st.writer) st.writer->flush();
    progress.finish(finished, tokens);

    // Summaries: metrics_<domain>.json (Coral's metrics.json), results.json (lm-eval style).
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json results = json::object(), n_samples = json::object(), versions = json::object(), configs = json::object();
    std::map<std::string, std::vector<double>> macro_means, macro_se;
    const std::vector<std::string> headline = {"agreement_correctness", "agreement", "valid_answer_rate", "persuade_rate",
                                               "assert_rate"};
    for (auto &domain_node : inputs.at("domains")) {
        DomainState &st = states.at(domain_node);
        json means = st.metrics.means(), ses = st.metrics.stderrs();
        write_json_atomic(ctx.output_dir / fmt::format("metrics_{}.json", domain_node), means);
        json r = {{"alias", domain_node}, {"conversations", st.metrics.count()}};
        auto put = [&](const std::string &name, const std::string &key) {
            if (!means.contains(key) || means[key].is_null()) return; // (a length no backend counted)
            r[name + ",none"] = means[key];
            r[name + "_stderr,none"] = ses[key];
            macro_means[name].push_back(means[key].get<double>());
            macro_se[name].push_back(ses[key].get<double>());
        };
        for (auto &h : headline) put(h, st.extractor_name + "-" + h);
        put("final_success_rate", st.matcher_name + "-final_success_rate");
        put("n_turns_to_success", st.matcher_name + "-n_turns_to_success");
        put("total_turns", "total_turns");
        put("conv_err", "conv_err");
        put("conv_len", "conv_len");
        results[domain_node] = r;
        const Domain *d = ctx.domains.at(domain_node);
        n_samples[domain_node] = {{"original", d->size() * trials}, {"effective", st.metrics.count()}};
        const NodeSpec *dn = ctx.graph.find(domain_node);
        versions[domain_node] = dn && dn->schema ? dn->schema->version : 0;
        configs[domain_node] = {{"use", dn ? dn->use : ""}, {"plugin", ctx.plugin_versions[domain_node]},
                                {"extractor", st.extractor_name}, {"matcher", st.matcher_name},
                                {"config", json::parse(toml_to_json(dn->config))}};
    }
    json macro = {{"alias", "macro average over domains"}, {"domains", inputs.at("domains")}};
    for (auto &[name, values] : macro_means) {
        double m = 0, se2 = 0;
        for (size_t i = 0; i < values.size(); ++i) {
            m += values[i];
            se2 += macro_se[name][i] * macro_se[name][i];
        }
        macro[name + ",none"] = m / values.size();
        macro[name + "_stderr,none"] = std::sqrt(se2) / values.size();
    }
    json backends = json::object();
    for (auto &r : roles) backends[r.name] = {{"model", r.backend->model()}, {"node", r.backend->node()}};
    backends["extractor"] = {{"model", extractor->model()}, {"node", extractor->node()}, {"method", extraction}};
    json doc = {{"results", results},
                {"groups", {{"macro_avg", macro}}},
                {"configs", configs},
                {"versions", versions},
                {"n-samples", n_samples},
                {"config",
                 {{"evaluation", "core/coral_eval"},
                  {"node", ctx.node.name},
                  {"profile", profile == AgreementProfile::Coral ? "coral" : "matrix"},
                  {"model", teacher_backend->model()},
                  {"roles", backends},
                  {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))},
                  {"graph", ctx.graph.file.string()},
                  {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}}},
                {"usage", {{"completion_tokens", tokens}, {"turns", turns_done}, {"peak_conversations_in_flight", peak_live},
                           {"turns_per_s", elapsed > 0 ? turns_done / elapsed : 0.0}}},
                {"total_evaluation_time_seconds", elapsed}};
    doc.update(provenance());
    write_json_atomic(ctx.output_dir / "results.json", doc);
    for (auto &[name, r] : results.items())
        logger().info("[{}] {}: agreement_correctness {:.4f} ± {:.4f}, agreement {:.4f}, any-turn success {:.4f}, "
                      "{:.2f} turns, over {} conversations",
                      ctx.node.name, name, r.value("agreement_correctness,none", 0.0), r.value("agreement_correctness_stderr,none", 0.0),
                      r.value("agreement,none", 0.0), r.value("final_success_rate,none", 0.0), r.value("total_turns,none", 0.0),
                      r.value("conversations", size_t{0}));
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

} // namespace parley::core
