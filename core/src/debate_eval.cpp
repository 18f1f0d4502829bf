// core/debate_eval: multi-agent debate (Du et al., 2023) on the evaluation runtime (eval/): the
// work plan lists every (domain, item, trial) not yet written, the scheduler runs a DebateEpisode
// (eval/debate_protocol.hpp) for each, and the record thread turns each finished one into its
// line of records_<domain>.jsonl and its metrics (eval/debate_record.hpp). results.json through
// results.hpp. A re-run skips finished (item, trial) pairs. This file binds the node's
// configuration and declares it ({schema, run}). Protocol and formats: eval/README.md.
#include "eval/agent_config.hpp"
#include "eval/common.hpp"
#include "eval/debate_record.hpp"
#include "eval/record_thread.hpp"
#include "eval/scheduler.hpp"
#include "eval/work_plan.hpp"

#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/results.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

namespace parley::core {

const CoreNode &debate_eval_node(); // its schema: the keys this file binds (defined at the end)

namespace {

using json = nlohmann::json;
using namespace eval;

struct DebateSettings {
    DebateConfig config;
    int64_t base_seed = 42, trials = 1, max_in_flight = 256;
    bool keep_records = true, backend_feedback = true;
    std::string filter; // lm-eval's filter name: "llm_extract" or "rule_extract"
};

// Every key's type, default, range and doc are in the schema below (debate_eval_node); the host
// has checked the values against it and filled in the defaults (with_defaults), so this binds.
DebateSettings bind_config(const RunContext &ctx) {
    const toml::table c = with_defaults(ctx.node.config, debate_eval_node().schema);
    DebateSettings s;
    DebateConfig &k = s.config;
    k.rounds = static_cast<int32_t>(bound<int64_t>(c, "rounds"));
    k.agents = read_agents(ctx, c, static_cast<size_t>(bound<int64_t>(c, "agents")), "backends");
    k.extraction = read_extraction(ctx, c, k.agents[0].backend, k.agents[0].backend_node);
    s.filter = k.extraction.llm() ? "llm_extract" : "rule_extract";
    k.prompts.debate = c["debate_prompt"].value_or(k.prompts.debate); // computed defaults: eval/debate_protocol.hpp
    k.prompts.solution = c["solution_prompt"].value_or(k.prompts.solution);
    k.prompts.reflect = c["reflect_prompt"].value_or(k.prompts.reflect);
    try {
        k.check();
    } catch (const std::invalid_argument &e) {
        throw node_error(ctx, e.what());
    }
    s.base_seed = bound<int64_t>(c, "seed");
    s.trials = bound<int64_t>(c, "trials");
    s.max_in_flight = bound<int64_t>(c, "max_in_flight");
    s.backend_feedback = bound<bool>(c, "backend_feedback");
    s.keep_records = bound<bool>(c, "records");
    if (!s.keep_records) check_records_unread(ctx);
    return s;
}

json results_document(RunContext &ctx, const DebateSettings &s, const WorkPlan &plan, const std::vector<DebateTally> &tallies,
                      const json &usage, double elapsed) {
    Results results(s.filter);
    std::vector<std::string> names;
    for (size_t i = 0; i < plan.domains().size(); ++i) {
        const PlanDomain &pd = plan.domains()[i];
        for (auto &[metric, values] : tallies[i].metrics()) results.add_samples(pd.node, metric, values);
        const NodeSpec *dn = ctx.graph.find(pd.node);
        results.describe(pd.node, "items", pd.domain->size() * static_cast<size_t>(s.trials), tallies[i].count(),
                         dn && dn->schema ? dn->schema->version : 0,
                         {{"use", dn ? dn->use : ""}, {"plugin", ctx.plugin_versions[pd.node]},
                          {"extractor", pd.domain->info().extractor_name}, {"matcher", pd.domain->info().matcher_name},
                          {"config", json::parse(toml_to_json(dn->config))}});
        names.push_back(pd.node);
    }
    json agents = json::array();
    for (auto &a : s.config.agents)
        agents.push_back({{"backend", a.backend_node}, {"model", a.backend->model()}, {"system_prompt", a.system_prompt},
                          {"temperature", a.temperature}, {"top_p", a.top_p}, {"top_k", a.top_k}, {"min_p", a.min_p},
                          {"max_tokens", a.max_tokens}});
    json config = {{"evaluation", "core/debate_eval"}, {"node", ctx.node.name}, {"agents", agents},
                   {"rounds", s.config.rounds},
                   {"extractor", s.config.extraction.llm() ? json{{"backend", s.config.extraction.backend_node},
                                                                  {"model", s.config.extraction.backend->model()},
                                                                  {"max_tokens", s.config.extraction.max_tokens}}
                                                            : json("rule")},
                   {"prompts", {{"debate", s.config.prompts.debate}, {"solution", s.config.prompts.solution},
                                {"reflect", s.config.prompts.reflect}}},
                   {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))},
                   {"graph", ctx.graph.file.string()}, {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}};
    return results.document(names, std::move(config), usage, elapsed);
}

void log_summary(const RunContext &ctx, const json &doc, const std::string &filter) {
    auto get = [&](const json &r, const std::string &m) { return r.value(m + "," + filter, 0.0); };
    for (auto &[name, r] : doc["results"].items())
        logger().info("[{}] {}: final_success_rate {:.4f} ± {:.4f} (round 0 majority {:.4f}), consensus {:.4f}, "
                      "{:.1f} tokens per item, over {} items",
                      ctx.node.name, name, get(r, "final_success_rate"), get(r, "final_success_rate_stderr"),
                      get(r, "accuracy_round0"), get(r, "consensus_rate"), get(r, "tokens_per_item"), r.value("items", size_t{0}));
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

// A finished debate on its way to the record thread, with the item it read.
struct Finished {
    DebateEpisode episode;
    uint32_t domain = 0;
};

void run_debate_eval(RunContext &ctx) {
    const DebateSettings s = bind_config(ctx);
    const auto started = std::chrono::steady_clock::now();
    AdmissionController::Limits limits;
    limits.max_conversations = s.max_in_flight;
    AdmissionController admission(limits);
    if (s.backend_feedback) {
        for (auto &a : s.config.agents) admission.watch(*a.backend);
        if (s.config.extraction.llm()) admission.watch(*s.config.extraction.backend);
    }

    std::vector<DebateTally> tallies(ctx.node.inputs.at("domains").size());
    WorkPlan plan(ctx, {"debate", "records", s.trials,
                        id_trial_of,
                        [&](uint32_t d, json &&row) { tallies[d].add(row); }});
    auto writers = plan.open_writers(s.keep_records, "records");
    plan.write_manifest();
    if (plan.resumed()) logger().info("[{}] resuming: {} finished debates kept, {} to run", ctx.node.name, plan.resumed(), plan.size());

    const std::vector<DomainItem> items = plan.items();

    RecordThread<Finished> records(
        [&](Finished &f) {
            json record = debate_record(f.episode, s.keep_records);
            if (writers[f.domain]) writers[f.domain]->append(record);
            tallies[f.domain].add(record);
        },
        [&] {
            for (auto &w : writers)
                if (w) w->poll();
        });
    int64_t tokens = 0, extractor_tokens = 0, answers = 0;
    Scheduler<DebateEpisode> scheduler(admission, {ctx.node.name, s.config.first_tokens(), {}});
    auto make = [&](size_t i) {
        const WorkUnit &u = plan.unit(i);
        const PlanDomain &pd = plan.domain(u);
        EpisodeId id;
        id.domain = pd.node;
        id.id = plan.item_id(u);
        id.gold = pd.domain->item(u.index).gold;
        id.index = u.index;
        id.trial = u.trial;
        id.seed = trial_seed(s.base_seed, pd.node, id.id, u.trial);
        return DebateEpisode(s.config, items[i], std::move(id));
    };
    std::map<std::string, uint32_t> domain_index;
    for (uint32_t d = 0; d < plan.domains().size(); ++d) domain_index[plan.domains()[d].node] = d;
    auto finished = [&](DebateEpisode &&e) {
        tokens += e.completion_tokens();
        extractor_tokens += e.extractor_tokens();
        answers += static_cast<int64_t>(s.config.agents.size()) * s.config.rounds;
        const uint32_t d = domain_index.at(e.id().domain);
        records.push(Finished{std::move(e), d});
    };
    if (plan.size()) scheduler.run(plan.size(), make, finished, [&] { return tokens; });
    records.close();
    for (auto &w : writers)
        if (w) w->flush();
    writers.clear();

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const json usage = {{"completion_tokens", tokens}, {"extractor_completion_tokens", extractor_tokens}, {"answers", answers},
                        {"answers_per_s", elapsed > 0 ? static_cast<double>(answers) / elapsed : 0.0},
                        {"peak_items_in_flight", scheduler.peak_live()}};
    const json doc = results_document(ctx, s, plan, tallies, usage, elapsed);
    write_json_atomic(ctx.output_dir / "results.json", doc);
    log_summary(ctx, doc, s.filter);
}

} // namespace

const CoreNode &debate_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema d = core_schema("debate_eval", "Multi-agent debate (Du et al., 2023): N agents answer, then revise seeing each other's answers; majority vote");
        d.params = {
            integer("agents", 3, "number of agents (the released code's default)").at_least(1),
            integer("rounds", 2, "rounds including round 0, the independent answers (the released code's default)").at_least(1),
            integer("max_tokens", 1024, "completion tokens per answer").at_least(1),
            number("temperature", 1.0, "agents' sampling temperature (the paper's: the OpenAI API default)").at_least(0),
            number("top_p", 1.0, "nucleus sampling").between(0, 1),
            integer("top_k", 0, "top-k sampling; 0 = off").at_least(0),
            number("min_p", 0.0, "min-p sampling; 0 = off").between(0, 1),
            computed("stop", PARLEY_TYPE_STRING_ARRAY, "[]", "stop strings for answers"),
            text("system_prompt", "cot", "\"cot\" (the domain's simple_cot prompt, which states its answer format), \"none\", or literal text"),
            computed("per_agent", PARLEY_TYPE_ANY, "[]",
                     "per-agent overrides, one table per agent in order: temperature, top_p, top_k, min_p, max_tokens, system_prompt, stop"),
            computed("debate_prompt", PARLEY_TYPE_STRING, "(eval/README.md)", "the debate message; {solutions} = the other agents' answers"),
            computed("solution_prompt", PARLEY_TYPE_STRING, "\\n\\n One agent solution: ```{answer}```", "one other agent's answer in the debate message"),
            computed("reflect_prompt", PARLEY_TYPE_STRING, "(eval/README.md)", "the message of later rounds when no other agent has an answer (one agent)"),
            integer("seed", 42, "base seed (0 … 2^63-1); every seed sent is below 2^63").at_least(0),
            integer("trials", 1, "debates per item, each with its own seed").at_least(1),
            text("extraction", "llm",
                 "\"llm\": the domain's extractor prompt on the extractor backend (as Coral); \"rule\": read beliefs from the answer")
                .one_of({"llm", "rule"}),
            integer("extractor_max_tokens", 32, "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)").at_least(1),
            integer("max_in_flight", 256, "hard cap on items (debates) in flight").at_least(1),
            flag("backend_feedback", true, "start new debates only while the backends' queues and KV caches have room (ABI 1.2 get_load)"),
            flag("records", true, "write per-debate records (false: results only; no resume)"),
        };
        d.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"backends", PARLEY_KIND_BACKEND, true, true, "the agents' model: one node for all, or one per agent"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the belief extractor's model (extraction = \"llm\"); default: agent 0's"},
        };
        d.outputs = {"records"};
        return CoreNode{std::move(d), run_debate_eval};
    }();
    return node;
}

} // namespace parley::core
