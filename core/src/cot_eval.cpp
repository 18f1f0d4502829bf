// core/cot_eval: the single-agent chain-of-thought baseline of Coral (max_turns 1, simple_cot
// system prompt). Every (domain, item, trial) is one request; answers are extracted by rule or by
// an LLM extractor, scored by the domain, streamed to samples_<domain>.jsonl as they finish and
// summarised in an lm-evaluation-harness-style results.json. A re-run skips finished samples.
// profile "coral" (default) follows the official CoT configs: LLM extraction, and a failed answer's
// error text extracted and scored like an answer; "fixed" reads answers by rule and scores a
// failed answer as no answer.
#include <parley/core/host_services.hpp>
#include <parley/core/hash.hpp>
#include <parley/core/log.hpp>
#include <parley/core/progress.hpp>
#include <parley/core/records.hpp>
#include "admission.hpp"
#include "eval_common.hpp"
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

const char *finish_name(int32_t f) {
    switch (f) {
    case PARLEY_FINISH_STOP: return "stop";
    case PARLEY_FINISH_LENGTH: return "length";
    case PARLEY_FINISH_CANCELLED: return "cancelled";
    case PARLEY_FINISH_ERROR: return "error";
    default: return "none";
    }
}

struct Task {
    std::string domain_node;
    Domain *domain = nullptr;
    size_t index = 0;
    int trial = 0;
    ItemInfo item;
    std::vector<ChatMessage> messages;
    GenerationResult answer;
    uint64_t seed = 0;
};

// Completions arrive on backend threads; the evaluation itself (domain calls, file writes) runs
// on this thread only, as the ABI asks.
struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<size_t, GenerationResult>> ready; // task index, result
    void push(size_t task, GenerationResult &&r) {
        {
            std::lock_guard<std::mutex> lock(mu);
            ready.emplace_back(task, std::move(r));
        }
        cv.notify_one();
    }
};

template <class T> T cfg(const toml::table &t, const char *key, T fallback) { return t[key].value_or(fallback); }

} // namespace

void run_cot_eval(RunContext &ctx) {
    const toml::table &c = ctx.node.config;
    const int64_t max_tokens = cfg<int64_t>(c, "max_tokens", 1024);
    const double temperature = cfg<double>(c, "temperature", 0.2);
    const double top_p = cfg<double>(c, "top_p", 0.9);
    const int64_t top_k = cfg<int64_t>(c, "top_k", 0);
    const double min_p = cfg<double>(c, "min_p", 0.0);
    const int64_t base_seed = cfg<int64_t>(c, "seed", 42);
    const int64_t trials = std::max<int64_t>(1, cfg<int64_t>(c, "trials", 1));
    const std::string profile = cfg<std::string>(c, "profile", "coral");
    const bool coral = profile == "coral";
    const std::string extraction = cfg<std::string>(c, "extraction", coral ? "llm" : "rule");
    const int64_t extractor_max_tokens = cfg<int64_t>(c, "extractor_max_tokens", 32);
    const size_t max_in_flight = static_cast<size_t>(std::max<int64_t>(1, cfg<int64_t>(c, "max_in_flight", 256)));
    const bool system_prompt = cfg<bool>(c, "system_prompt", true);
    std::vector<std::string> stop;
    if (auto *a = c["stop"].as_array())
        for (auto &s : *a) stop.push_back(s.value_or(std::string()));
    if (profile != "coral" && profile != "fixed")
        throw std::runtime_error(fmt::format("nodes.{}.profile: '{}' is neither \"coral\" nor \"fixed\"", ctx.node.name, profile));
    if (extraction != "rule" && extraction != "llm")
        throw std::runtime_error(fmt::format("nodes.{}.extraction: '{}' is neither \"rule\" nor \"llm\"", ctx.node.name, extraction));
    if (base_seed < 0) throw std::runtime_error(fmt::format("nodes.{}.seed must be between 0 and 2^63 - 1", ctx.node.name));

    const auto &inputs = ctx.node.inputs;
    Backend *backend = ctx.backends.at(inputs.at("backend").front());
    Backend *extractor = backend;
    if (auto it = inputs.find("extractor"); it != inputs.end()) extractor = ctx.backends.at(it->second.front());

    // Admission as in coral_eval (admission.hpp): the cap, then the backends' reported room.
    AdmissionController::Limits limits;
    limits.max_conversations = static_cast<int64_t>(max_in_flight);
    AdmissionController admission(limits);
    if (cfg<bool>(c, "backend_feedback", true))
        for (Backend *b : {backend, extractor}) admission.watch(*b);


    fs::create_directories(ctx.output_dir);
    auto started = std::chrono::steady_clock::now();

    // Resume: rows already written are kept; their (id, trial) pairs are not run again.
    std::map<std::string, std::vector<json>> rows_by_domain;
    std::map<std::string, std::unique_ptr<JsonlAppender>> writers;
    std::vector<Task> tasks;
    size_t resumed = 0;
    json manifest = {{"node", ctx.node.name}, {"kind", "samples"}, {"domains", json::object()}};
    if (ctx.shard) manifest["shard"] = {ctx.shard->first, ctx.shard->second};
    for (auto &domain_node : inputs.at("domains")) {
        Domain *d = ctx.domains.at(domain_node);
        fs::path samples = ctx.output_dir / fmt::format("samples_{}.jsonl", domain_node);
        auto &rows = rows_by_domain[domain_node];
        std::set<std::pair<std::string, int64_t>> done;
        for (auto &r : read_jsonl_for_resume(samples)) {
            auto key = std::make_pair(r.value("id", std::string()), r.value("trial", int64_t{0}));
            if (done.insert(key).second) rows.push_back(std::move(r));
        }
        resumed += rows.size();
        writers[domain_node] = std::make_unique<JsonlAppender>(samples);
        ctx.outputs[ctx.node.name]["samples"].push_back(samples);
        json expected = json::array();
        for (size_t i = 0; i < d->size(); ++i) {
            ItemInfo info = d->item(i);
            if (!ctx.owns(domain_node, info.id)) continue; // another shard's item
            for (int64_t t = 0; t < trials; ++t) expected.push_back({info.id, t});
            for (int64_t t = 0; t < trials; ++t) {
                if (done.count({info.id, t})) continue;
                Task task;
                task.domain_node = domain_node;
                task.domain = d;
                task.index = i;
                task.trial = static_cast<int>(t);
                task.item = info;
                task.seed = trial_seed(base_seed, domain_node, info.id, t);
                tasks.push_back(std::move(task));
            }
        }
        manifest["domains"][domain_node] = {{"total", d->size() * static_cast<size_t>(trials)}, {"expected", expected},
                                            {"file", samples.filename().string()}};
    }
    write_json_atomic(ctx.output_dir / "manifest.json", manifest);
    if (resumed) logger().info("[{}] resuming: {} finished samples kept, {} to run", ctx.node.name, resumed, tasks.size());

    Inbox inbox;
    enum Stage { kAnswer, kExtract };
    std::map<size_t, Stage> stage;
    size_t next = 0, in_flight = 0, finished = 0;
    int64_t tokens = 0;
    Progress progress(ctx.node.name, tasks.size());
    FailureLog failures(ctx.node.name);
    auto where = [&](const Task &t) { return fmt::format("{} item {} trial {}", t.domain_node, t.item.id, t.trial); };
    // The text whose answer is extracted: the response; under "coral" a failed request's error
    // text too (the official loop keeps it as the turn's content and rates it).
    auto answer_text = [&](const Task &t) -> std::string {
        if (t.answer.status != PARLEY_OK) return coral ? t.answer.error : std::string();
        return t.answer.choices.empty() ? std::string() : t.answer.choices[0].text;
    };

    auto submit = [&](size_t ti, Stage s) {
        Task &t = tasks[ti];
        GenerationRequest q;
        std::string extractor_system, extractor_prompt; // outlive submit() below
        if (s == kAnswer) {
            if (t.messages.empty()) {
                if (system_prompt) t.messages.push_back({"system", t.domain->render(t.index, PARLEY_TEXT_SYSTEM_COT)});
                t.messages.push_back({"user", t.domain->render(t.index, PARLEY_TEXT_TASK)});
            }
            for (auto &m : t.messages) q.messages.push_back({m.role, m.content});
            q.temperature = temperature;
            q.top_p = top_p;
            q.top_k = static_cast<int32_t>(top_k);
            q.min_p = min_p;
            q.seed = t.seed;
            q.max_tokens = static_cast<int32_t>(max_tokens);
            q.stop = stop;
            q.conversation = t.seed | 1; // its own cache line; a single turn has nothing to share
        } else {
            extractor_system = t.domain->render(t.index, PARLEY_TEXT_EXTRACTOR_SYSTEM);
            extractor_prompt = t.domain->render(t.index, PARLEY_TEXT_EXTRACTOR_PROMPT, answer_text(t));
            q.messages = {{"system", extractor_system}, {"user", extractor_prompt}};
            set_extractor_sampling(q, static_cast<int32_t>(extractor_max_tokens));
        }
        stage[ti] = s;
        Backend *b = s == kAnswer ? backend : extractor;
        try {
            b->submit(q, [&inbox, ti](GenerationResult &&r) { inbox.push(ti, std::move(r)); });
        } catch (const ComponentError &e) {
            GenerationResult r;
            r.status = e.code();
            r.error = e.what();
            inbox.push(ti, std::move(r));
        }
        ++in_flight;
    };

    auto finish_task = [&](size_t ti, const GenerationResult *extractor_result) {
        Task &t = tasks[ti];
        const GenerationResult &a = t.answer;
        std::string response = answer_text(t);
        std::string belief;
        bool valid = false;
        double score = 0.0;
        json row;
        if (a.status == PARLEY_OK || coral) {
            if (extractor_result) {
                if (extractor_result->status == PARLEY_OK && !extractor_result->choices.empty()) {
                    std::tie(belief, valid) = t.domain->extract(t.index, PARLEY_EXTRACT_LLM_OUTPUT, extractor_result->choices[0].text);
                    row["extractor_response"] = extractor_result->choices[0].text;
                } else {
                    belief = "Error: extraction network error"; // Coral's wording
                    row["extractor_error"] = extractor_result->error;
                    failures.note("extractor request", extractor_result->error, where(t));
                }
            } else {
                std::tie(belief, valid) = t.domain->extract(t.index, PARLEY_EXTRACT_RULE, response);
            }
            score = t.domain->score(t.index, belief);
        }
        row["doc_id"] = t.index;
        row["id"] = t.item.id;
        row["trial"] = t.trial;
        row["domain"] = t.domain_node;
        row["seed"] = t.seed;
        json prompt = json::array();
        for (auto &m : t.messages) prompt.push_back({{"role", m.role}, {"content", m.content}});
        row["prompt"] = std::move(prompt);
        row["response"] = response;
        row["extracted"] = belief;
        row["valid"] = valid;
        row["gold"] = t.item.gold;
        row["score"] = score;
        row["correct"] = score >= 1.0;
        row["finish_reason"] = a.choices.empty() ? "error" : finish_name(a.choices[0].finish_reason);
        row["prompt_tokens"] = a.prompt_tokens;
        row["cached_tokens"] = a.cached_tokens;
        row["completion_tokens"] = a.completion_tokens;
        row["total_s"] = a.total_s;
        if (a.status != PARLEY_OK) row["error"] = a.error;
        writers[t.domain_node]->append(row);
        rows_by_domain[t.domain_node].push_back(std::move(row));
        tokens += a.completion_tokens;
        ++finished;
        admission.on_finish(max_tokens);
        t.messages.clear();
        t.answer = GenerationResult{};
    };

    while (finished < tasks.size()) {
        while (next < tasks.size() && admission.may_start(max_tokens)) {
            admission.on_start(max_tokens);
            submit(next++, kAnswer);
        }
        std::deque<std::pair<size_t, GenerationResult>> batch;
        {
            std::unique_lock<std::mutex> lock(inbox.mu);
            inbox.cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return !inbox.ready.empty(); });
            batch.swap(inbox.ready);
        }
        for (auto &[ti, result] : batch) {
            --in_flight;
            if (stage[ti] == kAnswer) {
                if (result.status != PARLEY_OK) failures.note("request", result.error, where(tasks[ti]));
                tasks[ti].answer = std::move(result);
                if (extraction == "llm" && (tasks[ti].answer.status == PARLEY_OK || coral)) {
                    submit(ti, kExtract);
                } else {
                    stage.erase(ti);
                    finish_task(ti, nullptr);
                }
            } else {
                stage.erase(ti);
                finish_task(ti, &result);
            }
        }
        for (auto &[name, w] : writers) w->poll();
        progress.update(finished, in_flight, tokens);
    }
    for (auto &[name, w] : writers) w->flush();
    failures.summary();
    progress.finish(finished, tokens);
    writers.clear();

    // Results, lm-evaluation-harness style: one entry per domain plus the macro average.
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string filter = extraction == "rule" ? "rule_extract" : "llm_extract";
    json results = json::object(), n_samples = json::object(), versions = json::object(), configs = json::object();
    std::vector<double> domain_means, domain_stderrs;
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0, errors = 0;
    for (auto &domain_node : inputs.at("domains")) {
        auto &rows = rows_by_domain[domain_node];
        std::vector<double> correct, valid;
        for (auto &r : rows) {
            correct.push_back(r.value("correct", false) ? 1.0 : 0.0);
            valid.push_back(r.value("valid", false) ? 1.0 : 0.0);
            prompt_tokens += r.value("prompt_tokens", int64_t{0});
            completion_tokens += r.value("completion_tokens", int64_t{0});
            cached_tokens += r.value("cached_tokens", int64_t{0});
            errors += r.contains("error") ? 1 : 0;
        }
        auto mean = [](const std::vector<double> &v) {
            double s = 0;
            for (double x : v) s += x;
            return v.empty() ? 0.0 : s / v.size();
        };
        const Domain *d = ctx.domains.at(domain_node);
        results[domain_node] = {{"alias", domain_node},
                                {"final_success_rate," + filter, mean(correct)},
                                {"final_success_rate_stderr," + filter, mean_stderr(correct)},
                                {"valid_answer_rate," + filter, mean(valid)},
                                {"valid_answer_rate_stderr," + filter, mean_stderr(valid)},
                                {"samples", rows.size()}};
        domain_means.push_back(mean(correct));
        domain_stderrs.push_back(mean_stderr(correct));
        n_samples[domain_node] = {{"original", d->size()}, {"effective", rows.size()}};
        const NodeSpec *dn = ctx.graph.find(domain_node);
        versions[domain_node] = dn && dn->schema ? dn->schema->version : 0;
        configs[domain_node] = {{"use", dn ? dn->use : ""},
                                {"plugin", ctx.plugin_versions[domain_node]},
                                {"matcher", d->info().matcher_name},
                                {"config", json::parse(toml_to_json(dn->config))}};
    }
    double macro = 0, macro_se2 = 0;
    for (size_t i = 0; i < domain_means.size(); ++i) {
        macro += domain_means[i];
        macro_se2 += domain_stderrs[i] * domain_stderrs[i];
    }
    size_t k = domain_means.size();
    json groups = json::object();
    groups["macro_avg"] = {{"alias", "macro average over domains"},
                           {"final_success_rate," + filter, k ? macro / k : 0.0},
                           {"final_success_rate_stderr," + filter, k ? std::sqrt(macro_se2) / k : 0.0},
                           {"domains", inputs.at("domains")}};
    const NodeSpec &bn = *ctx.graph.find(inputs.at("backend").front());
    json doc = {{"results", results},
                {"groups", groups},
                {"configs", configs},
                {"versions", versions},
                {"n-samples", n_samples},
                {"config",
                 {{"evaluation", "core/cot_eval"},
                  {"node", ctx.node.name},
                  {"profile", profile},
                  {"model", backend->model()},
                  {"backend", bn.use},
                  {"backend_plugin", ctx.plugin_versions[bn.name]},
                  {"model_args", json::parse(toml_to_json(bn.config))},
                  {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))},
                  {"extraction", extraction},
                  {"graph", ctx.graph.file.string()},
                  {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}}},
                {"usage",
                 {{"prompt_tokens", prompt_tokens}, {"cached_tokens", cached_tokens},
                  {"completion_tokens", completion_tokens}, {"failed_requests", errors}}},
                {"total_evaluation_time_seconds", elapsed}};
    doc.update(provenance());
    write_json_atomic(ctx.output_dir / "results.json", doc);

    for (auto &[name, r] : results.items())
        logger().info("[{}] {}: final_success_rate {:.4f} ± {:.4f} over {} samples (valid answers {:.1f}%)", ctx.node.name,
                      name, r["final_success_rate," + filter].get<double>(), r["final_success_rate_stderr," + filter].get<double>(),
                      r["samples"].get<size_t>(), 100.0 * r["valid_answer_rate," + filter].get<double>());
    if (k > 1) logger().info("[{}] macro average: {:.4f}", ctx.node.name, k ? macro / k : 0.0);
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

} // namespace parley::core
