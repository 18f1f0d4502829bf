// core/sc_eval: self-consistency (k chain-of-thought samples per item, majority vote) on the
// evaluation runtime (eval/): the work plan, the scheduler running SelfConsistencyEpisodes
// (eval/self_consistency_protocol.hpp), records_<domain>.jsonl and their tally on the record
// thread (eval/self_consistency_record.hpp), results.json through results.hpp. `k` is a number or
// "match:<node>": the same completion-token budget per item as another evaluation node of the
// graph, fixed per domain after a pilot sample per item (eval/README.md, "Self-consistency").
// This file binds the node's configuration and declares it ({schema, run}).
#include "eval/agent_config.hpp"
#include "eval/common.hpp"
#include "eval/record_thread.hpp"
#include "eval/scheduler.hpp"
#include "eval/self_consistency_record.hpp"
#include "eval/work_plan.hpp"

#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/results.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace parley::core {

const CoreNode &sc_eval_node(); // its schema: the keys this file binds (defined at the end)

namespace {

using json = nlohmann::json;
using namespace eval;

constexpr const char *kMatch = "match:";

struct ScSettings {
    SelfConsistencyConfig config;
    int64_t k = 0;          // a fixed k; 0 with match
    std::string match_node; // "match:<node>"
    int64_t base_seed = 42, trials = 1, max_in_flight = 256;
    bool keep_records = true, backend_feedback = true;
    std::string filter;
};

// `k`: a positive number or "match:<node>" naming another node of the graph.
void bind_k(const RunContext &ctx, ScSettings &s) {
    const toml::node *k = ctx.node.config.get("k");
    if (!k) {
        s.k = 5;
        return;
    }
    if (auto n = k->value_exact<int64_t>()) {
        if (*n < 1 || *n >= Outbox::kMaxKey / 2) throw node_error(ctx, fmt::format("k: between 1 and {}", Outbox::kMaxKey / 2 - 1));
        s.k = *n;
        return;
    }
    const std::string text = k->value_or(std::string());
    if (text.rfind(kMatch, 0) != 0) throw node_error(ctx, "k: a number, or \"match:<node>\" (the token budget of that node)");
    s.match_node = text.substr(std::string(kMatch).size());
    if (!ctx.graph.find(s.match_node)) throw node_error(ctx, fmt::format("k: no node named '{}'", s.match_node));
}

// Every key's type, default, range and doc are in the schema below (sc_eval_node); the host has
// checked the values against it and filled in the defaults (with_defaults), so this binds.
ScSettings bind_config(const RunContext &ctx) {
    const toml::table c = with_defaults(ctx.node.config, sc_eval_node().schema);
    ScSettings s;
    bind_k(ctx, s);
    s.config.sampler = read_agents(ctx, c, 1, "backend").front();
    s.config.extraction = read_extraction(ctx, c, s.config.sampler.backend, s.config.sampler.backend_node);
    s.filter = s.config.extraction.llm() ? "llm_extract" : "rule_extract";
    s.base_seed = bound<int64_t>(c, "seed");
    s.trials = bound<int64_t>(c, "trials");
    s.max_in_flight = bound<int64_t>(c, "max_in_flight");
    s.backend_feedback = bound<bool>(c, "backend_feedback");
    s.keep_records = bound<bool>(c, "records");
    if (!s.keep_records) check_records_unread(ctx);
    return s;
}

// The matched node's mean completion tokens per (item, trial) on `domain`, from its results.json.
double node_tokens_per_item(const RunContext &ctx, const std::string &node, const std::string &domain) {
    const fs::path file = ctx.output_dir.parent_path() / node / "results.json";
    std::ifstream in(file);
    if (!in) throw node_error(ctx, fmt::format("k: match:{}: {} is missing (did '{}' run?)", node, file.string(), node));
    const json doc = json::parse(in);
    const json &r = doc.at("results").contains(domain) ? doc["results"][domain] : json();
    if (r.is_object())
        for (auto &[key, v] : r.items())
            if ((key.rfind("tokens_per_item,", 0) == 0 || key.rfind("conv_len,", 0) == 0) && v.is_number()) return v.get<double>();
    throw node_error(ctx, fmt::format("k: match:{}: its results.json has no tokens per item (tokens_per_item or conv_len) for "
                                      "domain '{}'", node, domain));
}

json results_document(RunContext &ctx, const ScSettings &s, const WorkPlan &plan, const std::vector<SelfConsistencyTally> &tallies,
                      const std::vector<int32_t> &k, const json &budget, const json &usage, double elapsed) {
    Results results(s.filter);
    std::vector<std::string> names;
    for (size_t i = 0; i < plan.domains().size(); ++i) {
        const PlanDomain &pd = plan.domains()[i];
        for (auto &[metric, values] : tallies[i].metrics()) results.add_samples(pd.node, metric, values, metric != "k");
        const NodeSpec *dn = ctx.graph.find(pd.node);
        results.describe(pd.node, "items", pd.domain->size() * static_cast<size_t>(s.trials), tallies[i].count(),
                         dn && dn->schema ? dn->schema->version : 0,
                         {{"use", dn ? dn->use : ""}, {"plugin", ctx.plugin_versions[pd.node]}, {"k", k[i]},
                          {"extractor", pd.domain->info().extractor_name}, {"matcher", pd.domain->info().matcher_name},
                          {"config", json::parse(toml_to_json(dn->config))}});
        names.push_back(pd.node);
    }
    const AgentSpec &a = s.config.sampler;
    json config = {{"evaluation", "core/sc_eval"}, {"node", ctx.node.name}, {"model", a.backend->model()}, {"backend", a.backend_node},
                   {"k", s.match_node.empty() ? json(s.k) : json(kMatch + s.match_node)}, {"budget", budget},
                   {"extraction", s.config.extraction.llm() ? "llm" : "rule"},
                   {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))},
                   {"graph", ctx.graph.file.string()}, {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}};
    return results.document(names, std::move(config), usage, elapsed);
}

// One run of the scheduler over the plan's units with k[domain] samples each (`taken`: samples
// already answered per unit, the pilot's); each finished episode goes to `finished`.
template <class Finished>
void run_samples(const RunContext &ctx, const ScSettings &s, const WorkPlan &plan, const std::vector<DomainItem> &items,
                 const std::vector<int32_t> &k, std::vector<std::vector<Answer>> *taken, Finished &&finished, int64_t &tokens) {
    AdmissionController::Limits limits;
    limits.max_conversations = s.max_in_flight;
    AdmissionController admission(limits);
    if (s.backend_feedback) {
        admission.watch(*s.config.sampler.backend);
        if (s.config.extraction.llm()) admission.watch(*s.config.extraction.backend);
    }
    const int32_t most = k.empty() ? 1 : *std::max_element(k.begin(), k.end());
    Scheduler<SelfConsistencyEpisode> scheduler(admission, {ctx.node.name, int64_t{s.config.sampler.max_tokens} * most, {}});
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
        id.unit = i;
        return SelfConsistencyEpisode(s.config, items[i], std::move(id), k[u.domain],
                                      taken ? std::move((*taken)[i]) : std::vector<Answer>{});
    };
    if (plan.size()) scheduler.run(plan.size(), make, finished, [&] { return tokens; });
}

// k per domain: fixed, read back from budget.json (a resumed match run), or piloted.
std::vector<int32_t> choose_k(const RunContext &ctx, const ScSettings &s, const WorkPlan &plan, const std::vector<DomainItem> &items,
                              std::vector<std::vector<Answer>> &pilot, json &budget, int64_t &tokens) {
    const size_t nd = plan.domains().size();
    if (s.match_node.empty()) return std::vector<int32_t>(nd, static_cast<int32_t>(s.k));
    const fs::path file = ctx.output_dir / "budget.json";
    std::vector<int32_t> k(nd, 1);
    if (fs::exists(file) && json::parse(std::ifstream(file)).value("match", std::string()) == s.match_node) {
        budget = json::parse(std::ifstream(file));
        for (size_t d = 0; d < nd; ++d) k[d] = budget.at("domains").at(plan.domains()[d].node).at("k").get<int32_t>();
        logger().info("[{}] k from {} (an earlier run's pilot)", ctx.node.name, file.string());
        return k;
    }
    // The pilot: sample 0 of every (item, trial), kept as the first sample of its episode.
    std::vector<double> sum(nd, 0.0), count(nd, 0.0);
    pilot.assign(plan.size(), {});
    run_samples(ctx, s, plan, items, k, nullptr, [&](SelfConsistencyEpisode &&e) {
        const uint32_t d = plan.unit(e.id().unit).domain;
        sum[d] += static_cast<double>(e.completion_tokens());
        count[d] += 1;
        tokens += e.completion_tokens();
        pilot[e.id().unit] = e.take_samples();
    }, tokens);
    budget = {{"match", s.match_node}, {"domains", json::object()}};
    for (size_t d = 0; d < nd; ++d) {
        const std::string &name = plan.domains()[d].node;
        const double node_tokens = node_tokens_per_item(ctx, s.match_node, name);
        const double cot = count[d] > 0 ? sum[d] / count[d] : 0.0;
        k[d] = cot > 0 ? static_cast<int32_t>(std::clamp<double>(std::round(node_tokens / cot), 1.0, Outbox::kMaxKey / 2 - 1)) : 1;
        budget["domains"][name] = {{"k", k[d]}, {"node_tokens_per_item", node_tokens}, {"cot_tokens_per_sample", cot},
                                   {"pilot_samples", count[d]}};
        logger().info("[{}] {}: k = {} ({} spends {:.1f} tokens per item, a CoT sample {:.1f})", ctx.node.name, name, k[d],
                      s.match_node, node_tokens, cot);
    }
    write_json_atomic(file, budget);
    return k;
}

void run_sc_eval(RunContext &ctx) {
    const ScSettings s = bind_config(ctx);
    const auto started = std::chrono::steady_clock::now();
    std::vector<SelfConsistencyTally> tallies(ctx.node.inputs.at("domains").size());
    WorkPlan plan(ctx, {"self_consistency", "records", s.trials,
                        id_trial_of,
                        [&](uint32_t d, json &&row) { tallies[d].add(row); }});
    auto writers = plan.open_writers(s.keep_records, "records");
    plan.write_manifest();
    if (plan.resumed()) logger().info("[{}] resuming: {} finished items kept, {} to run", ctx.node.name, plan.resumed(), plan.size());
    const std::vector<DomainItem> items = plan.items();

    int64_t tokens = 0, extractor_tokens = 0, samples = 0;
    json budget = nullptr;
    std::vector<std::vector<Answer>> pilot;
    const std::vector<int32_t> k = choose_k(ctx, s, plan, items, pilot, budget, tokens);
    RecordThread<SelfConsistencyEpisode> records(
        [&](SelfConsistencyEpisode &e) {
            json record = self_consistency_record(e, s.keep_records);
            const uint32_t d = plan.unit(e.id().unit).domain;
            if (writers[d]) writers[d]->append(record);
            tallies[d].add(record);
        },
        [&] {
            for (auto &w : writers)
                if (w) w->poll();
        });
    run_samples(ctx, s, plan, items, k, pilot.empty() ? nullptr : &pilot, [&](SelfConsistencyEpisode &&e) {
        tokens += e.completion_tokens() - (pilot.empty() ? 0 : e.samples().front().completion_tokens);
        extractor_tokens += e.extractor_tokens();
        samples += e.k();
        records.push(std::move(e));
    }, tokens);
    records.close();
    for (auto &w : writers)
        if (w) w->flush();
    writers.clear();

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const json usage = {{"completion_tokens", tokens}, {"extractor_completion_tokens", extractor_tokens}, {"samples", samples}};
    const json doc = results_document(ctx, s, plan, tallies, k, budget, usage, elapsed);
    write_json_atomic(ctx.output_dir / "results.json", doc);
    for (auto &[name, r] : doc["results"].items())
        logger().info("[{}] {}: final_success_rate {:.4f} ± {:.4f} (single samples {:.4f}), {:.1f} tokens per item, over {} items",
                      ctx.node.name, name, r.value("final_success_rate," + s.filter, 0.0),
                      r.value("final_success_rate_stderr," + s.filter, 0.0), r.value("sample_accuracy," + s.filter, 0.0),
                      r.value("tokens_per_item," + s.filter, 0.0), r.value("items", size_t{0}));
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

// The node named by k = "match:<node>": it runs first.
std::vector<std::pair<std::string, std::string>> reads_nodes(const NodeSpec &node) {
    const std::string k = node.config["k"].value_or(std::string());
    if (k.rfind(kMatch, 0) != 0) return {};
    return {{"k", k.substr(std::string(kMatch).size())}};
}

} // namespace

const CoreNode &sc_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema sc = core_schema("sc_eval", "Self-consistency: k chain-of-thought samples per item, majority vote; k may match another node's token budget");
        sc.params = {
            computed("k", PARLEY_TYPE_ANY, "5",
                     "samples per item, or \"match:<node>\": as many as spend that node's completion tokens per item (eval/README.md)"),
            integer("max_tokens", 1024, "completion tokens per sample").at_least(1),
            number("temperature", 0.7, "sampling temperature (> 0: the samples must differ; Wang et al. sample at 0.5-0.7)").at_least(0),
            number("top_p", 0.9, "nucleus sampling").between(0, 1),
            integer("top_k", 0, "top-k sampling; 0 = off").at_least(0),
            number("min_p", 0.0, "min-p sampling; 0 = off").between(0, 1),
            computed("stop", PARLEY_TYPE_STRING_ARRAY, "[]", "stop strings"),
            text("system_prompt", "cot", "\"cot\" (the domain's simple_cot prompt, as core/cot_eval), \"none\", or literal text"),
            integer("seed", 42, "base seed (0 … 2^63-1); sample j of an (item, trial) derives its own, below 2^63").at_least(0),
            integer("trials", 1, "sets of k samples per item, each with its own seed").at_least(1),
            text("extraction", "llm", "\"llm\": the domain's extractor prompt on the extractor backend; \"rule\"").one_of({"llm", "rule"}),
            integer("extractor_max_tokens", 32, "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)").at_least(1),
            integer("max_in_flight", 256, "hard cap on items in flight").at_least(1),
            flag("backend_feedback", true, "start new items only while the backends' queues and KV caches have room (ABI 1.2 get_load)"),
            flag("records", true, "write per-item records (false: results only; no resume)"),
        };
        sc.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"backend", PARLEY_KIND_BACKEND, false, true, "the model sampling"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the belief extractor's model (extraction = \"llm\"); default: backend"},
        };
        sc.outputs = {"records"};
        sc.reads_nodes = reads_nodes;
        return CoreNode{std::move(sc), run_sc_eval};
    }();
    return node;
}

} // namespace parley::core
