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
#include <parley/core/log.hpp>
#include <parley/core/progress.hpp>
#include <parley/core/records.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

namespace parley::core {
namespace {

using json = nlohmann::json;

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

template <class T> T cfg(const toml::table &t, const std::string &key, T fallback) { return t[key].value_or(fallback); }

// "stories260K.gguf" -> "stories260K_gguf": Coral's model_name.split("/")[-1] with - and . replaced.
std::string short_model_name(const std::string &model) {
    std::string s = model.substr(model.find_last_of('/') == std::string::npos ? 0 : model.find_last_of('/') + 1);
    for (char &c : s)
        if (c == '-' || c == '.') c = '_';
    return s.empty() ? "model" : s;
}

json typed_score(double score, int32_t type) {
    switch (type) {
    case PARLEY_SCORE_JSON_BOOL: return score >= 1.0;
    case PARLEY_SCORE_JSON_INT: return static_cast<int64_t>(score);
    default: return score;
    }
}

struct Role {
    std::string name;
    Backend *backend = nullptr;
    std::string system_prompt; // rendered per item: "collaborate", "cot", "none" or literal text
    double temperature = 0.2;
    int32_t max_tokens = 1024;
};

struct Turn {
    std::string role;
    std::string content;
    bool status_ok = true;
    std::string error;
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    std::string finish_reason;
    // annotation
    bool annotated = false;
    std::string extractor_prompt, extractor_response, belief;
    bool valid = false, extractor_ok = true, agreement = false;
    double score = 0.0;
};

enum class Stage { Idle, Speaking, Extracting, Done };

struct Conversation {
    std::string domain_node;
    Domain *domain = nullptr;
    size_t index = 0;
    int trial = 0;
    uint64_t seed = 0;
    uint64_t id = 0; // affinity id
    size_t next_role = 0;
    std::vector<Turn> turns;
    Stage stage = Stage::Idle;
    std::string item_id;
};

struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<size_t, GenerationResult>> ready;
    void push(size_t slot, GenerationResult &&r) {
        {
            std::lock_guard<std::mutex> lock(mu);
            ready.emplace_back(slot, std::move(r));
        }
        cv.notify_one();
    }
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
    std::vector<std::string> stop;
    if (auto *a = c["stop"].as_array())
        for (auto &s : *a) stop.push_back(s.value_or(std::string()));
    if (extraction != "rule" && extraction != "llm")
        throw std::runtime_error(fmt::format("nodes.{}.extraction: '{}' is neither \"rule\" nor \"llm\"", ctx.node.name, extraction));
    if (seed_mode != "per_conversation" && seed_mode != "fixed")
        throw std::runtime_error(fmt::format("nodes.{}.seed_mode: '{}' is neither \"per_conversation\" nor \"fixed\"", ctx.node.name, seed_mode));
    if (max_turns < 1) throw std::runtime_error(fmt::format("nodes.{}.max_turns must be at least 1", ctx.node.name));

    const auto &inputs = ctx.node.inputs;
    auto backend_of = [&](const char *port, Backend *fallback) -> Backend * {
        auto it = inputs.find(port);
        return it == inputs.end() ? fallback : ctx.backends.at(it->second.front());
    };
    Backend *teacher_backend = backend_of("teacher", nullptr);
    Backend *student_backend = backend_of("student", teacher_backend);
    Backend *extractor = backend_of("extractor", teacher_backend);

    // Roles speak in this order after turn 0 (asked by `first_role`).
    std::vector<Role> roles(2);
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

    const size_t max_in_flight = static_cast<size_t>(std::max<int64_t>(
        1, cfg<int64_t>(c, "max_conversations",
                        std::max<int64_t>(64, 4 * static_cast<int64_t>(std::max(teacher_backend->max_parallel(), 16))))));

    fs::create_directories(ctx.output_dir);
    const auto started = std::chrono::steady_clock::now();

    struct DomainState {
        std::string extractor_name, matcher_name;
        int32_t score_type = PARLEY_SCORE_JSON_FLOAT;
        MetricsAccumulator metrics;
        std::unique_ptr<JsonlAppender> writer;
        size_t resumed = 0;
    };
    std::map<std::string, DomainState> states;
    std::vector<Conversation> pending; // not yet started, in item order
    for (auto &domain_node : inputs.at("domains")) {
        Domain *d = ctx.domains.at(domain_node);
        DomainState &st = states[domain_node];
        std::string extractor_class = d->info().extractor_name.empty() ? "ExtractionPromptingEvaluator" : d->info().extractor_name;
        st.extractor_name = (extraction == "llm" ? short_model_name(extractor->model()) : std::string("RuleBased")) + "-" + extractor_class;
        st.matcher_name = d->info().matcher_name.empty() ? "MatchEvaluator" : d->info().matcher_name;
        st.score_type = d->info().score_json_type;
        fs::path records = ctx.output_dir / fmt::format("records_{}.jsonl", domain_node);
        std::set<std::pair<std::string, int64_t>> done;
        for (auto &r : read_jsonl_for_resume(records)) {
            const json &p = r.contains("parley") ? r["parley"] : json::object();
            auto key = std::make_pair(p.value("id", std::string()), p.value("trial", int64_t{0}));
            if (!done.insert(key).second) continue;
            st.metrics.add(r.contains("metrics") ? r["metrics"] : conversation_metrics(r, max_turns, profile));
        }
        st.resumed = done.size();
        st.writer = std::make_unique<JsonlAppender>(records);
        for (size_t i = 0; i < d->size(); ++i) {
            ItemInfo info = d->item(i);
            for (int64_t t = 0; t < trials; ++t) {
                if (done.count({info.id, t})) continue;
                Conversation conv;
                conv.domain_node = domain_node;
                conv.domain = d;
                conv.index = i;
                conv.trial = static_cast<int>(t);
                conv.item_id = info.id;
                conv.seed = seed_mode == "fixed" ? static_cast<uint64_t>(base_seed)
                                                 : splitmix(static_cast<uint64_t>(base_seed) ^ fnv1a(domain_node + "\x1f" + info.id)) + t;
                conv.id = splitmix(fnv1a(ctx.node.name + "\x1f" + domain_node + "\x1f" + info.id) + t) | 1;
                pending.push_back(std::move(conv));
            }
        }
        if (st.resumed)
            logger().info("[{}] {}: resuming: {} finished conversations kept", ctx.node.name, domain_node, st.resumed);
    }

    const size_t total = pending.size();
    Inbox inbox;
    std::vector<Conversation> slots; // live conversations
    std::vector<size_t> free_slots;
    size_t next_pending = 0, live = 0, finished = 0, requests_out = 0;
    int64_t tokens = 0, turns_done = 0;
    Progress progress(ctx.node.name, total);

    auto system_text = [&](const Conversation &cv, const Role &r) -> std::string {
        if (r.system_prompt == "collaborate") return cv.domain->render(cv.index, PARLEY_TEXT_SYSTEM_COLLABORATE);
        if (r.system_prompt == "cot") return cv.domain->render(cv.index, PARLEY_TEXT_SYSTEM_COT);
        if (r.system_prompt == "none") return {};
        return r.system_prompt;
    };

    auto speak = [&](size_t slot) {
        Conversation &cv = slots[slot];
        const Role &r = roles[cv.next_role];
        GenerationRequest q;
        std::string sys = system_text(cv, r);
        if (!sys.empty()) q.messages.push_back({"system", sys});
        // Perspective flip: own turns are the assistant's, everyone else's the user's.
        bool first = true;
        for (auto &t : cv.turns) {
            std::string role = t.role == r.name ? "assistant" : "user";
            if (first && role == "assistant" && profile == AgreementProfile::Matrix)
                q.messages.push_back({"user", "hi"}); // Matrix P2P's dummy opening turn
            first = false;
            q.messages.push_back({role, t.content});
        }
        q.temperature = r.temperature;
        q.top_p = top_p;
        q.top_k = static_cast<int32_t>(top_k);
        q.min_p = min_p;
        q.seed = seed_mode == "fixed" ? cv.seed : cv.seed + cv.turns.size();
        q.max_tokens = r.max_tokens;
        q.stop = stop;
        q.conversation = cv.id;
        q.agent = static_cast<uint32_t>(cv.next_role);
        cv.stage = Stage::Speaking;
        ++requests_out;
        try {
            r.backend->submit(q, [&inbox, slot](GenerationResult &&res) { inbox.push(slot, std::move(res)); });
        } catch (const ComponentError &e) {
            GenerationResult res;
            res.status = e.code();
            res.error = e.what();
            inbox.push(slot, std::move(res));
        }
    };

    auto extract = [&](size_t slot) {
        Conversation &cv = slots[slot];
        Turn &t = cv.turns.back();
        GenerationRequest q;
        t.extractor_prompt = cv.domain->render(cv.index, PARLEY_TEXT_EXTRACTOR_PROMPT, t.content);
        q.messages = {{"system", cv.domain->render(cv.index, PARLEY_TEXT_EXTRACTOR_SYSTEM)}, {"user", t.extractor_prompt}};
        q.temperature = 0.0;
        q.max_tokens = extractor_max_tokens;
        cv.stage = Stage::Extracting;
        ++requests_out;
        try {
            extractor->submit(q, [&inbox, slot](GenerationResult &&res) { inbox.push(slot, std::move(res)); });
        } catch (const ComponentError &e) {
            GenerationResult res;
            res.status = e.code();
            res.error = e.what();
            inbox.push(slot, std::move(res));
        }
    };

    auto record_of = [&](const Conversation &cv) {
        const DomainState &st = states.at(cv.domain_node);
        json conv = json::array();
        for (size_t i = 0; i < cv.turns.size(); ++i) {
            const Turn &t = cv.turns[i];
            json info;
            if (i == 0) {
                info = {{"usage", {{"prompt_tokens", 0}, {"total_tokens", 0}, {"completion_tokens", 0}}}};
            } else if (!t.status_ok) {
                info = {{"status_ok", false}, {"error", t.error}};
            } else {
                info = {{"status_ok", true},
                        {"usage", {{"prompt_tokens", t.prompt_tokens}, {"completion_tokens", t.completion_tokens}}},
                        {"parley", {{"cached_tokens", t.cached_tokens}, {"finish_reason", t.finish_reason}}}};
            }
            if (t.annotated) {
                json ext_info = {{"prompt", t.extractor_prompt}, {"response", t.extractor_response}, {"extracted_answer", t.belief},
                                 {"agreement", t.agreement}, {"status_ok", t.extractor_ok}};
                json em = typed_score(t.score, st.score_type);
                info["annotation"] = {{st.extractor_name, {{"score", t.valid}, {"info", ext_info}}},
                                      {st.matcher_name, {{"score", em}, {"info", {{"metrics", {{"em", em}}}, {"status_ok", true}}}}}};
                info["extracted_answer"] = t.belief;
            }
            conv.push_back({{"role", t.role}, {"content", t.content}, {"info", info}});
        }
        json metadata = json::object();
        ItemInfo item = cv.domain->item(cv.index);
        if (!item.metadata_json.empty()) {
            try {
                metadata = json::parse(item.metadata_json);
            } catch (const json::exception &) {
                metadata = json::object();
            }
        }
        metadata["init_prompt"] = cv.turns.empty() ? "" : cv.turns[0].content;
        metadata["teacher_inst"] = system_text(cv, roles[0]);
        metadata["student_inst"] = system_text(cv, roles[1]);
        json record = {{"conv_result", conv}, {"metadata", metadata}};
        record["metrics"] = conversation_metrics(record, max_turns, profile);
        record["parley"] = {{"id", cv.item_id}, {"trial", cv.trial}, {"domain", cv.domain_node}, {"seed", cv.seed},
                            {"gold", item.gold}, {"profile", profile == AgreementProfile::Coral ? "coral" : "matrix"}};
        return record;
    };

    auto finish = [&](size_t slot) {
        Conversation &cv = slots[slot];
        DomainState &st = states.at(cv.domain_node);
        json record = record_of(cv);
        st.metrics.add(record["metrics"]);
        st.writer->append(record);
        cv = Conversation{};
        cv.stage = Stage::Done;
        free_slots.push_back(slot);
        --live;
        ++finished;
    };

    // Annotates the newest turn with its belief, then decides whether the conversation goes on.
    auto annotate_and_continue = [&](size_t slot, const GenerationResult *extractor_result) {
        Conversation &cv = slots[slot];
        Turn &t = cv.turns.back();
        t.annotated = true;
        if (extractor_result) {
            if (extractor_result->status == PARLEY_OK && !extractor_result->choices.empty()) {
                t.extractor_response = extractor_result->choices[0].text;
                std::tie(t.belief, t.valid) = cv.domain->extract(cv.index, PARLEY_EXTRACT_LLM_OUTPUT, t.extractor_response);
            } else {
                t.belief = "Error: extraction network error"; // Coral's wording
                t.valid = false;
                t.extractor_ok = false;
            }
        } else {
            std::tie(t.belief, t.valid) = cv.domain->extract(cv.index, PARLEY_EXTRACT_RULE, t.content);
        }
        t.score = cv.domain->score(cv.index, t.belief);
        ++turns_done;
        if (!t.status_ok) {
            finish(slot); // a failed request ends the conversation (conv_err)
            return;
        }
        // Agreement check on the record shape the metrics read.
        bool agree = false;
        if (cv.turns.size() >= 3 || (cv.turns.size() >= 2 && profile == AgreementProfile::Matrix)) {
            auto belief_ok = [](const Turn &x) { return x.annotated && x.valid; };
            if (profile == AgreementProfile::Coral) {
                const Turn &a = cv.turns[cv.turns.size() - 1], &b = cv.turns[cv.turns.size() - 2];
                agree = a.role != b.role && belief_ok(a) && belief_ok(b) && a.belief == b.belief;
            } else {
                std::map<std::string, std::string> latest;
                for (auto it = cv.turns.rbegin(); it != cv.turns.rend(); ++it)
                    if (!latest.count(it->role) && belief_ok(*it)) latest[it->role] = it->belief;
                agree = latest.size() >= 2;
                for (auto &[role, b] : latest) agree = agree && b == latest.begin()->second;
            }
        }
        if (agree) t.agreement = true;
        if (agree || static_cast<int>(cv.turns.size()) - 1 >= max_turns) {
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
        Turn t0;
        t0.role = roles[first_speaker == 0 ? 1 : 0].name; // the asker
        t0.content = c2.domain->render(c2.index, first_speaker == 0 ? PARLEY_TEXT_TASK : PARLEY_TEXT_TASK_TEACHER_FIRST);
        c2.turns.push_back(std::move(t0));
        c2.next_role = first_speaker;
        ++live;
        speak(slot);
    };

    while (finished < total) {
        // Live conversations come first: new ones start only while there is room.
        while (next_pending < total && live < max_in_flight) start(std::move(pending[next_pending++]));
        std::deque<std::pair<size_t, GenerationResult>> batch;
        {
            std::unique_lock<std::mutex> lock(inbox.mu);
            inbox.cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return !inbox.ready.empty(); });
            batch.swap(inbox.ready);
        }
        for (auto &[slot, res] : batch) {
            --requests_out;
            Conversation &cv = slots[slot];
            if (cv.stage == Stage::Speaking) {
                Turn t;
                t.role = roles[cv.next_role].name;
                if (res.status == PARLEY_OK && !res.choices.empty()) {
                    t.content = res.choices[0].text;
                    t.prompt_tokens = res.prompt_tokens;
                    t.cached_tokens = res.cached_tokens;
                    t.completion_tokens = res.completion_tokens;
                    t.finish_reason = finish_name(res.choices[0].finish_reason);
                    tokens += res.completion_tokens;
                } else {
                    t.status_ok = false;
                    t.error = res.error.empty() ? "request failed" : res.error;
                    t.content = t.error;
                    logger().warn("[{}] {} item {} trial {} turn {}: {}", ctx.node.name, cv.domain_node, cv.item_id, cv.trial,
                                  cv.turns.size(), t.error);
                }
                cv.turns.push_back(std::move(t));
                if (extraction == "llm") extract(slot);
                else annotate_and_continue(slot, nullptr);
            } else if (cv.stage == Stage::Extracting) {
                annotate_and_continue(slot, &res);
            }
        }
        progress.update(finished, live, tokens);
    }
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
            if (!means.contains(key)) return;
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
                {"usage", {{"completion_tokens", tokens}, {"turns", turns_done}}},
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
