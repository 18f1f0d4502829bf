// core/coral_eval: Coral's collaborative reasoning, many conversations at once, on the evaluation
// runtime (eval/): the work plan lists every (domain, item, trial) not yet written, the
// scheduler runs a CoralEpisode (eval/coral_protocol.hpp) for each, and the record thread turns
// each finished one into its metrics and its line of records_<domain>.jsonl in Coral's record
// format (eval/coral_record_writer.hpp). At the end: metrics_<domain>.json (Coral's
// metrics.json) and results.json (results.hpp). A re-run skips finished (item, trial) pairs.
// This file binds the node's configuration and declares it ({schema, run}).
#include "eval/budget.hpp"
#include "eval/coral_record_writer.hpp"
#include "eval/record_thread.hpp"
#include "eval/sample_order.hpp"
#include "eval/scheduler.hpp"
#include "eval/work_plan.hpp"

#include <parley/core/coral_metrics.hpp>
#include <parley/core/hash.hpp>
#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/results.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

namespace parley::core {

const CoreNode &coral_eval_node(); // its schema: the keys this file binds (defined at the end)

namespace {

using json = nlohmann::json;
using namespace eval;

struct CoralSettings {
    CoralConfig config;
    std::string extraction;
    int64_t trials = 1;
    bool keep_records = true, backend_feedback = true;
    AdmissionController::Limits limits;
};

// `<role>_<key>` over `<key>` (its default and choices, "none" or "all", are in the schema below):
// whether the partner or the extractor sees a role's reasoning.
bool reasoning_seen(const toml::table &c, const std::string &role, const std::string &key) {
    return c[role + "_" + key].value_or(bound<std::string>(c, key.c_str())) == "all";
}

// Teacher and student speak in this order after turn 0 (asked by `first_role`). A role's own key
// (teacher_temperature) falls back on the node-wide one (temperature), whose default the schema holds.
void bind_roles(const RunContext &ctx, const toml::table &c, CoralConfig &k) {
    const auto &inputs = ctx.node.inputs;
    auto backend_of = [&](const char *port, Backend *fallback) -> Backend * {
        auto it = inputs.find(port);
        return it == inputs.end() ? fallback : ctx.backends.at(it->second.front());
    };
    Backend *teacher = backend_of("teacher", nullptr);
    k.roles = {{"teacher", teacher, {}}, {"student", backend_of("student", teacher), {}}}; // (turns index roles with one byte)
    k.extractor = backend_of("extractor", teacher);
    for (auto &r : k.roles) {
        r.system_prompt = c[r.name + "_system_prompt"].value_or(bound<std::string>(c, "system_prompt"));
        r.temperature = c[r.name + "_temperature"].value_or(bound<double>(c, "temperature"));
        r.max_tokens = static_cast<int32_t>(c[r.name + "_max_tokens"].value_or(bound<int64_t>(c, "max_tokens")));
        r.reasoning_to_partner = reasoning_seen(c, r.name, "reasoning_to_partner");
        r.reasoning_to_extractor = reasoning_seen(c, r.name, "reasoning_to_extractor");
    }
    k.first_speaker = bound<std::string>(c, "first_role") == "student" ? 0 : 1; // the other role answers turn 0
}

// Every key's type, default, range and doc are in the schema below (coral_eval_node); the host has
// checked the values against it and filled in the defaults (with_defaults), so this only binds.
CoralSettings bind_config(const RunContext &ctx) {
    const toml::table c = with_defaults(ctx.node.config, coral_eval_node().schema);
    CoralSettings s;
    CoralConfig &k = s.config;
    k.profile = parse_profile(bound<std::string>(c, "profile"));
    k.max_turns = static_cast<int>(bound<int64_t>(c, "max_turns"));
    k.top_p = bound<double>(c, "top_p");
    k.top_k = static_cast<int32_t>(bound<int64_t>(c, "top_k"));
    k.min_p = bound<double>(c, "min_p");
    s.trials = bound<int64_t>(c, "trials");
    s.extraction = bound<std::string>(c, "extraction");
    k.extractor_max_tokens = static_cast<int32_t>(bound<int64_t>(c, "extractor_max_tokens"));
    k.beam = static_cast<int>(bound<int64_t>(c, "beam")); // tree sampling: candidates per turn
    s.keep_records = bound<bool>(c, "records");
    k.reasoning_records = bound<bool>(c, "reasoning_records");
    if (!s.keep_records) check_records_unread(ctx);
    k.stop = bound_strings(c, "stop");
    k.llm_extraction = s.extraction == "llm";
    k.fixed_seed = bound<std::string>(c, "seed_mode") == "fixed";
    k.base_seed = static_cast<uint64_t>(bound<int64_t>(c, "seed"));
    bind_roles(ctx, c, k);
    // Admission: a hard cap, an optional budget of resident tokens, and the backends' own
    // reports of their queue and KV cache (admission.hpp).
    s.limits.max_conversations = c["max_conversations"].value_or( // computed default
        std::max<int64_t>(64, 4 * static_cast<int64_t>(std::max(k.roles[0].backend->max_parallel(), 16))));
    s.limits.max_tokens_in_flight = bound<int64_t>(c, "max_tokens_in_flight");
    s.backend_feedback = bound<bool>(c, "backend_feedback");
    return s;
}

// What the run keeps per domain: the record format, the metrics so far (with each
// conversation's values, for the intervals) and each conversation's (item, trial), the records file.
struct DomainState {
    CoralRecordFormat format;
    MetricsAccumulator metrics{true};
    SampleOrder order;
    std::unique_ptr<JsonlAppender> writer; // none with records = false
};

// A finished conversation on its way to the record thread (the item read on the scheduler's
// thread: domain calls stay there, contract P12).
struct Finished {
    CoralEpisode episode;
    ItemInfo item;
    uint32_t domain = 0;
};

json results_document(RunContext &ctx, const CoralSettings &s, const WorkPlan &plan, const std::vector<DomainState> &states,
                      json usage, double elapsed) {
    Results results("none");
    static const std::vector<std::string> headline = {"agreement_correctness", "agreement", "valid_answer_rate", "persuade_rate",
                                                      "assert_rate"};
    std::vector<std::string> names;
    for (size_t i = 0; i < plan.domains().size(); ++i) {
        const PlanDomain &pd = plan.domains()[i];
        const DomainState &st = states[i];
        const json means = st.metrics.means(), ses = st.metrics.stderrs();
        write_json_atomic(ctx.output_dir / fmt::format("metrics_{}.json", pd.node), means);
        const SampleOrder::Arrangement a = st.order.arrange(pd.ids, s.trials);
        results.trials(a.trials); // pass@k and consistency when every item has its trials
        // From the conversations' values (intervals) when every conversation has one, else the
        // accumulator's estimate (a length not every backend counted).
        auto put = [&](const std::string &name, const std::string &key) {
            if (!means.contains(key) || means[key].is_null()) return; // (a length no backend counted)
            const std::vector<double> &values = st.metrics.values(key);
            if (values.size() == st.order.size()) results.add_samples(pd.node, name, a.apply(values));
            else results.add(pd.node, name, {means[key].get<double>(), ses[key].get<double>()});
        };
        const RaterNames &rn = st.format.names();
        for (auto &h : headline) put(h, rn.extractor + "-" + h);
        put("final_success_rate", rn.matcher + "-final_success_rate");
        put("n_turns_to_success", rn.matcher + "-n_turns_to_success");
        for (const char *k : {"total_turns", "conv_err", "conv_len"}) put(k, k);
        const NodeSpec *dn = ctx.graph.find(pd.node);
        results.describe(pd.node, "conversations", pd.domain->size() * static_cast<size_t>(s.trials), st.metrics.count(),
                         dn && dn->schema ? dn->schema->version : 0,
                         {{"use", dn ? dn->use : ""}, {"plugin", ctx.plugin_versions[pd.node]}, {"extractor", rn.extractor},
                          {"matcher", rn.matcher}, {"sensitive_text", pd.domain->info().sensitive_text}, {"config", json::parse(toml_to_json(dn->config))}});
        names.push_back(pd.node);
    }
    results.trials(static_cast<size_t>(s.trials)); // statistics.trials: the node's
    json backends = json::object();
    for (auto &r : s.config.roles) backends[r.name] = {{"model", r.backend->model()}, {"node", r.backend->node()}};
    backends["extractor"] = {{"model", s.config.extractor->model()}, {"node", s.config.extractor->node()}, {"method", s.extraction}};
    json config = {{"evaluation", "core/coral_eval"}, {"node", ctx.node.name},
                   {"profile", s.config.profile == AgreementProfile::Coral ? "coral" : "matrix"},
                   {"model", s.config.roles[0].backend->model()}, {"roles", backends},
                   {"gen_kwargs", json::parse(toml_to_json(ctx.node.config))}, {"graph", ctx.graph.file.string()},
                   {"graph_resolved", json::parse(toml_to_json(ctx.graph.document))}};
    return results.document(names, std::move(config), std::move(usage), elapsed);
}

void log_summary(const RunContext &ctx, const json &doc) {
    for (auto &[name, r] : doc["results"].items())
        logger().info("[{}] {}: agreement_correctness {:.4f} ± {:.4f}, agreement {:.4f}, any-turn success {:.4f}, "
                      "{:.2f} turns, over {} conversations",
                      ctx.node.name, name, r.value("agreement_correctness,none", 0.0), r.value("agreement_correctness_stderr,none", 0.0),
                      r.value("agreement,none", 0.0), r.value("final_success_rate,none", 0.0), r.value("total_turns,none", 0.0),
                      r.value("conversations", size_t{0}));
    logger().info("[{}] wrote {}", ctx.node.name, (ctx.output_dir / "results.json").string());
}

// A record's (item id, trial).
std::pair<std::string, int64_t> record_key(const json &r) {
    const json &p = r.contains("parley") ? r["parley"] : json::object();
    return {p.value("id", std::string()), p.value("trial", int64_t{0})};
}

// The plan (resumed records enter the metrics) and each domain's record format and file.
std::vector<DomainState> domain_states(RunContext &ctx, const CoralSettings &s, std::unique_ptr<WorkPlan> &plan) {
    std::vector<DomainState> states;
    for (auto &node : ctx.node.inputs.at("domains"))
        states.push_back({CoralRecordFormat(ctx.domains.at(node)->info(), s.config.extractor->model(), s.config),
                          MetricsAccumulator(true), {}, nullptr});
    const int max_turns = s.config.max_turns;
    const AgreementProfile profile = s.config.profile;
    plan = std::make_unique<WorkPlan>(ctx, PlanOptions{"records", "records", s.trials,
                                                       record_key,
                                                       [&](uint32_t d, json &&r) {
                                                           auto [id, trial] = record_key(r);
                                                           states[d].order.note(std::move(id), trial);
                                                           states[d].metrics.add(r.contains("metrics") ? r["metrics"]
                                                                                                       : conversation_metrics(r, max_turns, profile));
                                                       }});
    for (size_t d = 0; d < states.size(); ++d) {
        const PlanDomain &pd = plan->domains()[d];
        if (pd.resumed) logger().info("[{}] {}: resuming: {} finished conversations kept", ctx.node.name, pd.node, pd.resumed);
        if (!s.keep_records) continue;
        states[d].writer = std::make_unique<JsonlAppender>(pd.file);
        ctx.outputs[ctx.node.name]["records"].push_back(pd.file);
    }
    plan->write_manifest();
    return states;
}

void run_coral_eval(RunContext &ctx) {
    const CoralSettings s = bind_config(ctx);
    const auto started = std::chrono::steady_clock::now();
    AdmissionController admission(s.limits);
    const CoralConfig &k = s.config;
    if (s.backend_feedback)
        for (Backend *b : {k.roles[0].backend, k.roles[1].backend, k.llm_extraction ? k.extractor : k.roles[0].backend})
            admission.watch(*b);
    std::unique_ptr<WorkPlan> plan;
    std::vector<DomainState> states = domain_states(ctx, s, plan);

    // The record thread: metrics from the same facts `parley metrics` reads back, then the line.
    std::string line;             // record thread only
    std::vector<TurnFacts> facts; // record thread only
    auto write_record = [&](Finished &job) {
        DomainState &st = states[job.domain];
        st.format.facts(job.episode, facts);
        const Metrics metrics = compute_metrics(facts, st.format.names(), k.max_turns, k.profile);
        st.metrics.add(metrics);
        st.order.note(job.item.id, job.episode.trial());
        if (!st.writer) return; // records = false: metrics only
        line.clear();
        st.format.write(job.episode, job.item, metrics, line);
        st.writer->append_line(line);
    };
    RecordThread<Finished> records(write_record, [&] {
        for (auto &st : states)
            if (st.writer) st.writer->poll();
    });

    CoralShared shared(k, ctx.node.name);
    const Budget budget = Budget::read(ctx);
    SchedulerOptions options{ctx.node.name, k.roles[k.first_speaker].max_tokens, nullptr};
    if (budget.active()) options.spent = [&] { return budget.reached(shared.usage.total()); };
    Scheduler<CoralEpisode> scheduler(admission, options);
    auto make = [&](size_t i) {
        const WorkUnit &u = plan->unit(i);
        const PlanDomain &pd = plan->domain(u);
        const std::string &id = plan->item_id(u);
        return CoralEpisode(shared, pd.node, *pd.domain, u.index, static_cast<int>(u.trial), id,
                            splitmix(fnv1a(ctx.node.name + "\x1f" + pd.node + "\x1f" + id) + u.trial) | 1);
    };
    std::map<const std::string *, uint32_t> domain_of; // by the plan's node name (the episode points to it)
    for (uint32_t d = 0; d < plan->domains().size(); ++d) domain_of[&plan->domains()[d].node] = d;
    auto finished = [&](CoralEpisode &&e) {
        ItemInfo item = e.domain().item(e.index());
        const uint32_t d = domain_of.at(&e.domain_node());
        records.push(Finished{std::move(e), std::move(item), d});
    };
    scheduler.run(plan->size(), make, finished, [&] { return shared.tokens; });
    shared.failures.summary();
    records.close();
    for (auto &st : states)
        if (st.writer) st.writer->flush();

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json usage = {{"completion_tokens", shared.tokens}, {"turns", shared.turns},
                  {"peak_conversations_in_flight", scheduler.peak_live()},
                  {"turns_per_s", elapsed > 0 ? shared.turns / elapsed : 0.0},
                  {"by_role", shared.usage.to_json()},
                  {"cache", cache_usage_json({k.roles[0].backend, k.roles[1].backend, k.extractor})}};
    if (budget.active()) {
        usage["budget"] = budget.to_json(shared.usage.total(), scheduler.stopped_early());
        if (scheduler.stopped_early())
            logger().warn("[{}] budget reached ({} tokens spent): no new conversation started; the results cover the finished ones; "
                          "run the graph again to resume", ctx.node.name, shared.usage.total().total());
    }
    const json doc = results_document(ctx, s, *plan, states, std::move(usage), elapsed);
    write_json_atomic(ctx.output_dir / "results.json", doc);
    log_summary(ctx, doc);
}

} // namespace

const CoreNode &coral_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema coral = core_schema("coral_eval", "Coral collaborative reasoning: two agents discuss each item until they agree");
        coral.params = {
            text("profile", "coral", "\"coral\" (official: last two turns agree; total_turns counts turn 0) or \"matrix\" (Matrix P2P)")
                .one_of({"coral", "matrix"}),
            integer("max_turns", 20, "generated turns at most (turn 0 not counted)").at_least(1),
            integer("max_tokens", 1024, "completion tokens per turn").at_least(1),
            number("temperature", 0.2, "agents' sampling temperature (Coral's default)").at_least(0),
            number("top_p", 0.9, "nucleus sampling").between(0, 1),
            integer("top_k", 0, "top-k sampling; 0 = off").at_least(0),
            number("min_p", 0.0, "min-p sampling; 0 = off").between(0, 1),
            integer("seed", 42, "base seed (0 … 2^63-1); every seed sent is below 2^63").at_least(0),
            text("seed_mode", "per_conversation",
                 "\"per_conversation\": each (item, trial, turn) its own seed; \"fixed\": `seed` on every request (Coral/Matrix), "
                 "tree picks from one Python-random stream seeded `seed`")
                .one_of({"per_conversation", "fixed"}),
            integer("trials", 1, "conversations (trees) per item (Coral's sampling_n), each with its own seed").at_least(1),
            text("extraction", "llm",
                 "\"llm\": the domain's extractor prompt on the extractor backend (official); \"rule\": read beliefs from the turn")
                .one_of({"rule", "llm"}),
            integer("extractor_max_tokens", 32, "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)").at_least(1),
            text("first_role", "student", "who asks the question in turn 0 (the other answers first)").one_of({"student", "teacher"}),
            integer("beam", 1, "tree sampling: candidates per turn (one request with n = beam); one continues, the rest are kept as siblings")
                .between(1, 255),
            computed("stop", PARLEY_TYPE_STRING_ARRAY, "[]", "stop strings for agent turns"),
            computed("max_conversations", PARLEY_TYPE_INT, "4 x backend slots", "hard cap on conversations in flight").at_least(1),
            flag("records", true, "write per-conversation records (false: metrics and results only; no resume)"),
            integer("max_tokens_in_flight", 0, "budget of resident tokens over live conversations (0 = none)").at_least(0),
            flag("backend_feedback", true, "start new conversations only while the backends' queues and KV caches have room (ABI 1.2 get_load)"),
            text("system_prompt", "collaborate",
                 "\"collaborate\" (assistant_sbs_short / GPQA assistant_sbs), \"cot\" (simple_cot), \"none\", or literal text"),
            computed("teacher_system_prompt", PARLEY_TYPE_STRING, "= system_prompt", "the teacher's own system prompt"),
            computed("student_system_prompt", PARLEY_TYPE_STRING, "= system_prompt", "the student's own system prompt"),
            computed("teacher_temperature", PARLEY_TYPE_FLOAT, "= temperature", "the teacher's own temperature").at_least(0),
            computed("student_temperature", PARLEY_TYPE_FLOAT, "= temperature", "the student's own temperature").at_least(0),
            computed("teacher_max_tokens", PARLEY_TYPE_INT, "= max_tokens", "the teacher's own token limit").at_least(1),
            computed("student_max_tokens", PARLEY_TYPE_INT, "= max_tokens", "the student's own token limit").at_least(1),
            budget_param("conversations"),
            text("reasoning_to_partner", "none",
                 "what the partner sees of a reasoning model's thinking: \"none\" (the answer only) or \"all\" (<think>…</think> then the answer)")
                .one_of({"none", "all"}),
            text("reasoning_to_extractor", "none", "what the belief extractor reads of it: \"none\" or \"all\"").one_of({"none", "all"}),
            computed("teacher_reasoning_to_partner", PARLEY_TYPE_STRING, "= reasoning_to_partner", "the teacher's own").one_of({"none", "all"}),
            computed("student_reasoning_to_partner", PARLEY_TYPE_STRING, "= reasoning_to_partner", "the student's own").one_of({"none", "all"}),
            computed("teacher_reasoning_to_extractor", PARLEY_TYPE_STRING, "= reasoning_to_extractor", "the teacher's own").one_of({"none", "all"}),
            computed("student_reasoning_to_extractor", PARLEY_TYPE_STRING, "= reasoning_to_extractor", "the student's own").one_of({"none", "all"}),
            flag("reasoning_records", true, "records keep each turn's reasoning (turn info.parley.reasoning, which Coral's readers ignore)"),
        };
        coral.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"teacher", PARLEY_KIND_BACKEND, false, true, "the teacher's model (and by default everyone's)"},
            {"student", PARLEY_KIND_BACKEND, false, false, "the student's model (cross-partner evaluation); default: teacher"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the belief extractor's model; default: teacher"},
        };
        coral.outputs = {"records"};
        return CoreNode{std::move(coral), run_coral_eval};
    }();
    return node;
}

} // namespace parley::core
