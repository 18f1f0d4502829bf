// core/cot_eval: the single-agent chain-of-thought baseline of Coral (max_turns 1, simple_cot
// system prompt), run on the evaluation runtime (eval/): the work plan lists every (domain, item,
// trial) not yet written, the scheduler runs a CotEpisode (eval/cot_protocol.hpp) for each, and
// each finished sample is appended to samples_<domain>.jsonl and summarised in an
// lm-evaluation-harness-style results.json (eval results: results.hpp). A re-run skips finished
// samples. This file binds the node's configuration and declares it ({schema, run}).
#include "eval/budget.hpp"
#include "eval/cot_protocol.hpp"
#include "eval/sample_order.hpp"
#include "eval/scheduler.hpp"
#include "eval/work_plan.hpp"

#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/results.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

namespace parley::core {

const CoreNode &cot_eval_node(); // its schema: the keys this file binds (defined at the end)

namespace {

using json = nlohmann::json;
using namespace eval;

struct CotSettings {
    CotConfig config;
    std::string profile, extraction;
    int64_t base_seed = 42, trials = 1, max_in_flight = 256;
    bool backend_feedback = true;
};

// Every key's type, default, range and doc are in the schema below (cot_eval_node); the host has
// checked the values against it and filled in the defaults (with_defaults), so this only binds.
CotSettings bind_config(const RunContext &ctx) {
    const toml::table c = with_defaults(ctx.node.config, cot_eval_node().schema);
    CotSettings s;
    CotConfig &k = s.config;
    s.profile = bound<std::string>(c, "profile");
    k.coral = s.profile == "coral";
    s.extraction = c["extraction"].value_or(std::string(k.coral ? "llm" : "rule")); // computed default
    k.llm_extraction = s.extraction == "llm";
    k.max_tokens = static_cast<int32_t>(bound<int64_t>(c, "max_tokens"));
    k.temperature = bound<double>(c, "temperature");
    k.top_p = bound<double>(c, "top_p");
    k.top_k = static_cast<int32_t>(bound<int64_t>(c, "top_k"));
    k.min_p = bound<double>(c, "min_p");
    k.extractor_max_tokens = static_cast<int32_t>(bound<int64_t>(c, "extractor_max_tokens"));
    k.system_prompt = bound<bool>(c, "system_prompt");
    k.stop = bound_strings(c, "stop");
    s.base_seed = bound<int64_t>(c, "seed");
    s.trials = bound<int64_t>(c, "trials");
    s.max_in_flight = bound<int64_t>(c, "max_in_flight");
    s.backend_feedback = bound<bool>(c, "backend_feedback");
    const auto &inputs = ctx.node.inputs;
    k.backend = ctx.backends.at(inputs.at("backend").front());
    k.extractor = k.backend;
    if (auto it = inputs.find("extractor"); it != inputs.end()) k.extractor = ctx.backends.at(it->second.front());
    return s;
}

// Per domain: the samples' values results.json summarises (kept rows first, in file order; each
// sample's (item, trial) noted to put them in the plan's order).
struct DomainTally {
    std::vector<double> correct, valid;
    std::vector<std::string> answers; // the extracted answer of a valid sample, else "" (maj@k)
    SampleOrder order;
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0, errors = 0;
    void add(const json &r) {
        order.note(r.value("id", std::string()), r.value("trial", int64_t{0}));
        correct.push_back(r.value("correct", false) ? 1.0 : 0.0);
        valid.push_back(r.value("valid", false) ? 1.0 : 0.0);
        const json &extracted = r.contains("extracted") ? r["extracted"] : json();
        answers.push_back(r.value("valid", false) && extracted.is_string() ? extracted.get<std::string>() : std::string());
        prompt_tokens += r.value("prompt_tokens", int64_t{0});
        completion_tokens += r.value("completion_tokens", int64_t{0});
        cached_tokens += r.value("cached_tokens", int64_t{0});
        errors += r.contains("error") ? 1 : 0;
    }
};

json results_document(RunContext &ctx, const CotSettings &s, const WorkPlan &plan, const std::vector<DomainTally> &tallies,
                      json this_run, double elapsed) {
    Results results(s.extraction == "rule" ? "rule_extract" : "llm_extract");
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0, errors = 0;
    std::vector<std::string> names;
    for (size_t i = 0; i < plan.domains().size(); ++i) {
        const PlanDomain &pd = plan.domains()[i];
        const DomainTally &t = tallies[i];
        const SampleOrder::Arrangement a = t.order.arrange(pd.ids, s.trials);
        results.trials(a.trials); // pass@k, consistency and maj@k when every item has its trials
        const std::vector<double> correct = a.apply(t.correct);
        results.add_samples(pd.node, "final_success_rate", correct);
        results.add_votes(pd.node, "final_success_rate", a.apply(t.answers), correct);
        results.add_samples(pd.node, "valid_answer_rate", a.apply(t.valid), false);
        const NodeSpec *dn = ctx.graph.find(pd.node);
        results.describe(pd.node, "samples", pd.domain->size(), t.correct.size(), dn && dn->schema ? dn->schema->version : 0,
                         {{"use", dn ? dn->use : ""}, {"plugin", ctx.plugin_versions[pd.node]},
                          {"matcher", pd.domain->info().matcher_name},
                          {"sensitive_text", pd.domain->info().sensitive_text}, {"config", json::parse(toml_to_json(dn->config))}});
        prompt_tokens += t.prompt_tokens, completion_tokens += t.completion_tokens;
        cached_tokens += t.cached_tokens, errors += t.errors;
        names.push_back(pd.node);
    }
    results.trials(static_cast<size_t>(s.trials)); // statistics.trials: the node's
    const NodeSpec &bn = *ctx.graph.find(ctx.node.inputs.at("backend").front());
    json config = {{"evaluation", "core/cot_eval"}, {"node", ctx.node.name}, {"profile", s.profile},
                   {"model", s.config.backend->model()}, {"backend", bn.use}, {"backend_plugin", ctx.plugin_versions[bn.name]},
                   {"model_args", json::parse(toml_to_json(bn.config))}, {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))},
                   {"extraction", s.extraction}, {"graph", ctx.graph.file.string()},
                   {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}};
    json usage = {{"prompt_tokens", prompt_tokens}, {"cached_tokens", cached_tokens}, {"completion_tokens", completion_tokens},
                  {"failed_requests", errors}};
    usage.update(this_run); // by_role, cache, budget: this run's requests
    return results.document(names, std::move(config), std::move(usage), elapsed);
}

void log_summary(const RunContext &ctx, const json &doc, const std::string &filter) {
    for (auto &[name, r] : doc["results"].items())
        logger().info("[{}] {}: final_success_rate {:.4f} ± {:.4f} over {} samples (valid answers {:.1f}%)", ctx.node.name,
                      name, r["final_success_rate," + filter].get<double>(), r["final_success_rate_stderr," + filter].get<double>(),
                      r["samples"].get<size_t>(), 100.0 * r["valid_answer_rate," + filter].get<double>());
    if (doc["results"].size() > 1)
        logger().info("[{}] macro average: {:.4f}", ctx.node.name, doc["groups"]["macro_avg"]["final_success_rate," + filter].get<double>());
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

void run_cot_eval(RunContext &ctx) {
    const CotSettings s = bind_config(ctx);
    const auto started = std::chrono::steady_clock::now();
    AdmissionController::Limits limits; // the cap, then the backends' reported room (admission.hpp)
    limits.max_conversations = s.max_in_flight;
    AdmissionController admission(limits);
    if (s.backend_feedback)
        for (Backend *b : {s.config.backend, s.config.extractor}) admission.watch(*b);

    std::vector<DomainTally> tallies(ctx.node.inputs.at("domains").size());
    WorkPlan plan(ctx, {"samples", "samples", s.trials,
                        id_trial_of,
                        [&](uint32_t d, json &&row) { tallies[d].add(row); }});
    auto writers = plan.open_writers(true, "samples");
    plan.write_manifest();
    if (plan.resumed()) logger().info("[{}] resuming: {} finished samples kept, {} to run", ctx.node.name, plan.resumed(), plan.size());

    CotShared shared{s.config, FailureLog(ctx.node.name), {}};
    int64_t tokens = 0;
    const Budget budget = Budget::read(ctx);
    SchedulerOptions options{ctx.node.name, s.config.max_tokens, nullptr};
    if (budget.active()) options.spent = [&] { return budget.reached(shared.usage.total()); };
    Scheduler<CotEpisode> scheduler(admission, options);
    auto make = [&](size_t i) {
        const WorkUnit &u = plan.unit(i);
        const PlanDomain &pd = plan.domain(u);
        return CotEpisode(shared, pd.node, *pd.domain, u.index, static_cast<int>(u.trial),
                          trial_seed(s.base_seed, pd.node, plan.item_id(u), u.trial));
    };
    std::map<std::string, uint32_t> domain_index;
    for (uint32_t d = 0; d < plan.domains().size(); ++d) domain_index[plan.domains()[d].node] = d;
    auto finished = [&](CotEpisode &&e) {
        const uint32_t d = domain_index.at(e.domain_node());
        json row = cot_sample_row(e);
        writers[d]->append(row);
        tallies[d].add(row);
        tokens += e.answer().completion_tokens;
    };
    scheduler.run(plan.size(), make, finished, [&] { return tokens; });
    for (auto &w : writers) w->flush();
    shared.failures.summary();
    writers.clear();

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json this_run = {{"by_role", shared.usage.to_json()}, {"cache", cache_usage_json({s.config.backend, s.config.extractor})}};
    if (budget.active()) {
        this_run["budget"] = budget.to_json(shared.usage.total(), scheduler.stopped_early());
        if (scheduler.stopped_early())
            logger().warn("[{}] budget reached ({} tokens spent): no new sample started; run the graph again to resume", ctx.node.name,
                          shared.usage.total().total());
    }
    const json doc = results_document(ctx, s, plan, tallies, std::move(this_run), elapsed);
    write_json_atomic(ctx.output_dir / "results.json", doc);
    log_summary(ctx, doc, s.extraction == "rule" ? "rule_extract" : "llm_extract");
}

} // namespace

const CoreNode &cot_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema cot = core_schema("cot_eval", "Single-agent chain-of-thought evaluation (Coral's simple_cot baseline)");
        cot.params = {
            text("profile", "coral", "\"coral\" (official CoT configs: LLM extraction, a failed answer's error text extracted and scored) or \"fixed\"")
                .one_of({"coral", "fixed"}),
            integer("max_tokens", 1024, "completion tokens per answer").at_least(1),
            number("temperature", 0.2, "sampling temperature (Coral's default; 0 = greedy)").at_least(0),
            number("top_p", 0.9, "nucleus sampling").between(0, 1),
            integer("top_k", 0, "top-k sampling; 0 = off").at_least(0),
            number("min_p", 0.0, "min-p sampling; 0 = off").between(0, 1),
            integer("seed", 42, "base seed (0 … 2^63-1); each (item, trial) derives its own, below 2^63").at_least(0),
            integer("trials", 1, "samples per item, each with its own seed").at_least(1),
            computed("stop", PARLEY_TYPE_STRING_ARRAY, "[]", "stop strings"),
            computed("extraction", PARLEY_TYPE_STRING, "llm (profile coral), rule (fixed)",
                     "\"rule\": read the answer from the response; \"llm\": ask the extractor backend (Coral's way)")
                .one_of({"llm", "rule"}),
            integer("extractor_max_tokens", 32, "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)").at_least(1),
            integer("max_in_flight", 256, "hard cap on items in flight").at_least(1),
            flag("backend_feedback", true, "start new items only while the backends' queues and KV caches have room (ABI 1.2 get_load)"),
            budget_param("samples"),
            flag("system_prompt", true, "send the domain's simple_cot system prompt"),
        };
        cot.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"backend", PARLEY_KIND_BACKEND, false, true, "the model answering"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the model extracting beliefs (extraction = \"llm\"); default: backend"},
        };
        cot.outputs = {"samples"};
        return CoreNode{std::move(cot), run_cot_eval};
    }();
    return node;
}

} // namespace parley::core
