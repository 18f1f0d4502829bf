#include "report_data.hpp"
#include "encode.hpp"

#include <parley/core/agreement.hpp>
#include <parley/core/coral_metrics.hpp>
#include <parley/core/log.hpp>
#include <parley/core/run_dir.hpp>
#include <parley/coral_record.hpp>

#include <fmt/format.h>

#include <fstream>

namespace parley::core::report {

namespace fs = std::filesystem;
using json = nlohmann::json;
namespace rec = coral_record;

namespace {

const char *kHidden = "[text hidden: this domain's items are sensitive (GPQA); `parley report --show-sensitive` includes it]";

// A domain whose item text must not be shown: results.json's configs.<domain>.sensitive_text when
// the evaluation wrote it, else by the domain's plugin or name (GPQA, the one sensitive domain).
bool sensitive(const EvalRun &run, const std::string &domain) {
    const json &c = run.results.value("configs", json::object()).value(domain, json::object());
    if (c.contains("sensitive_text") && c["sensitive_text"].is_boolean()) return c["sensitive_text"].get<bool>();
    const std::string use = c.value("use", std::string());
    return use.rfind("gpqa/", 0) == 0 || domain.find("gpqa") != std::string::npos;
}

json read_json_file(const fs::path &file) {
    std::ifstream in(file);
    if (!in) return nullptr;
    json j = json::parse(in, nullptr, false);
    return j.is_discarded() ? json(nullptr) : j;
}

// timeline.jsonl -> [[t, done, in_flight, tokens], ...]
json read_timeline(const fs::path &file) {
    json out = json::array();
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        out.push_back({j.value("t", 0.0), j.value("done", 0), j.value("in_flight", 0), j.value("tokens", int64_t{0})});
    }
    return out;
}

double metric_or(const json &record, const char *name, double fallback) {
    const json *m = rec::find_metric(record, name);
    return m ? rec::number(*m).value_or(fallback) : fallback;
}

// One turn (or sibling candidate) as the viewer shows it.
json viewer_turn(const json &node, const rec::RaterNames &names, bool hide) {
    const rec::Turn t(node, &names);
    json v = {{"r", std::string(t.role())}};
    const std::string *content = t.content();
    v["c"] = hide ? std::string(kHidden) : content ? *content : std::string();
    if (const std::string *b = t.extractor().extracted_answer()) v["b"] = *b;
    else if (const std::string *b2 = t.extracted_answer()) v["b"] = *b2;
    if (auto s = t.matcher().score()) v["s"] = *s;
    if (t.status_ok() == 0) v["e"] = 1;
    if (auto n = t.own_completion_tokens()) v["n"] = *n;
    return v;
}

struct Collector {
    explicit Collector(const ReportOptions &options) : o(options) {}

    const ReportOptions &o;
    ReportData data;
    std::string chunk = "[";
    size_t in_chunk = 0;
    std::vector<std::string> domains;

    size_t domain_index(const std::string &d) {
        for (size_t i = 0; i < domains.size(); ++i)
            if (domains[i] == d) return i;
        domains.push_back(d);
        return domains.size() - 1;
    }
    void push_conversation(const json &conv) {
        if (in_chunk) chunk += ',';
        chunk += conv.dump(-1, ' ', false, json::error_handler_t::replace);
        ++data.conversations;
        if (++in_chunk == o.chunk) flush();
    }
    void flush() {
        if (!in_chunk) return;
        chunk += ']';
        data.chunks.push_back(base64(gzip(chunk)));
        chunk.assign(1, '['); // not = "[": GCC 12's bogus -Wrestrict (bug 105651)
        in_chunk = 0;
    }
    void index_row(size_t node, size_t domain, const std::string &id, int64_t trial, double turns, double tokens, int agree,
                   double correct, int success, int err, size_t siblings) {
        json &x = data.index;
        x["node"].push_back(node), x["domain"].push_back(domain), x["id"].push_back(id), x["trial"].push_back(trial);
        x["turns"].push_back(turns), x["tokens"].push_back(tokens), x["agree"].push_back(agree), x["correct"].push_back(correct);
        x["success"].push_back(success), x["err"].push_back(err), x["sib"].push_back(siblings);
    }

    void coral_row(const EvalRun &run, size_t node, const SampleRow &s, bool hide, AgreementProfile profile) {
        const json &r = *s.row;
        const rec::RaterNames names = rec::rater_names(r);
        const auto facts = facts_of(r, names);
        const int agreed_at = agreement_turn(facts, profile);
        json turns = json::array();
        size_t siblings = 0;
        const json &conv = rec::turns_of(r);
        for (size_t i = 0; i < conv.size(); ++i) {
            json v = viewer_turn(conv[i], names, hide);
            if (static_cast<int>(i) == agreed_at) v["a"] = 1;
            if (const json *sib = rec::Turn(conv[i], &names).siblings()) {
                v["x"] = json::array();
                for (auto &c : *sib) v["x"].push_back(viewer_turn(c, names, hide));
                siblings += sib->size();
            }
            turns.push_back(std::move(v));
        }
        const json *len = rec::find_metric(r, "conv_len");
        const double tokens = len && len->is_number() ? len->get<double>() : -1;
        const int err = metric_or(r, "conv_err", 0) != 0;
        const double correct = outcome(run, r).value_or(0.0);
        const int success = metric_or(r, "final_success_rate", 0) != 0;
        index_row(node, domain_index(s.domain), s.id, s.trial, static_cast<double>(conv.size()), tokens, agreed_at >= 0, correct,
                  success, err, siblings);
        push_conversation({{"turns", std::move(turns)}, {"gold", rec::field(rec::field(r, "parley"), "gold")}, {"hidden", hide}});
    }

    void cot_row(const EvalRun &run, size_t node, const SampleRow &s, bool hide) {
        const json &r = *s.row;
        json turns = json::array();
        for (auto &m : r.value("prompt", json::array()))
            turns.push_back({{"r", m.value("role", "")}, {"c", hide ? std::string(kHidden) : m.value("content", "")}});
        json answer = {{"r", "assistant"}, {"c", hide ? std::string(kHidden) : r.value("response", "")}, {"b", r.value("extracted", "")}};
        if (r.contains("score") && r["score"].is_number()) answer["s"] = r["score"];
        if (r.contains("error")) answer["e"] = 1;
        if (r.contains("completion_tokens")) answer["n"] = r["completion_tokens"];
        turns.push_back(std::move(answer));
        const double correct = outcome(run, r).value_or(0.0);
        index_row(node, domain_index(s.domain), s.id, s.trial, 1, r.value("completion_tokens", -1.0), -1, correct, correct != 0,
                  r.contains("error") ? 1 : 0, 0);
        push_conversation({{"turns", std::move(turns)}, {"gold", r.value("gold", json(nullptr))}, {"hidden", hide}});
    }

    json node_summary(const EvalRun &run, size_t run_index) {
        json n = {{"run", run_index}, {"name", run.dir.filename().string()}, {"dir", run.dir.string()},
                  {"evaluation", run.evaluation}, {"headline", run.headline}, {"filter", run.filter},
                  {"results", run.results["results"]}, {"groups", run.results.value("groups", json::object())},
                  {"statistics", run.results.value("statistics", json(nullptr))},
                  {"n_samples", run.results.value("n-samples", json::object())},
                  {"usage", run.results.value("usage", json::object())},
                  {"elapsed", run.results.value("total_evaluation_time_seconds", 0.0)},
                  {"model", run.results.value("/config/model"_json_pointer, std::string())},
                  {"metrics", json::object()}, {"timeline", read_timeline(run.dir / "timeline.jsonl")}};
        for (auto &d : run.domains)
            if (json m = read_json_file(run.dir / fmt::format("metrics_{}.json", d)); !m.is_null()) n["metrics"][d] = m;
        return n;
    }

    void run() {
        json nodes = json::array(), runs = json::array(), hidden = json::object();
        for (auto &given : o.runs) {
            const auto dirs = evaluation_dirs(given);
            if (dirs.empty()) throw std::runtime_error(fmt::format("{}: no results.json here nor in a folder below", given.string()));
            runs.push_back({{"label", fs::weakly_canonical(given).filename().string()}, {"dir", given.string()}});
            for (auto &dir : dirs) {
                const EvalRun run = open_run(dir);
                const size_t node = nodes.size();
                nodes.push_back(node_summary(run, runs.size() - 1));
                const auto profile = parse_profile(run.results.value("/config/profile"_json_pointer, std::string("coral")));
                for (auto &d : run.domains) {
                    const bool hide = sensitive(run, d) && !o.show_sensitive;
                    if (sensitive(run, d)) hidden[d] = hide;
                    if (!fs::exists(run.samples_file(d))) {
                        logger().warn("report: {} is missing; {} / {} has no conversations to view", run.samples_file(d).string(),
                                      run.label(), d);
                        continue;
                    }
                    for_each_row(run, d, [&](const SampleRow &s) {
                        if (run.conversations) coral_row(run, node, s, hide, profile);
                        else cot_row(run, node, s, hide);
                    });
                }
            }
        }
        flush();
        data.index["n"] = data.conversations;
        data.index["domains"] = domains;
        data.summary = {{"parley_version", PARLEY_VERSION}, {"runs", runs}, {"nodes", nodes}, {"sensitive", hidden},
                        {"chunk", o.chunk}, {"chunks", data.chunks.size()}, {"conversations", data.conversations}};
    }
};

} // namespace

ReportData collect(const ReportOptions &options) {
    if (options.chunk == 0) throw std::invalid_argument("report: chunk size 0");
    Collector c(options);
    for (const char *k : {"node", "domain", "id", "trial", "turns", "tokens", "agree", "correct", "success", "err", "sib"})
        c.data.index[k] = json::array();
    c.run();
    return std::move(c.data);
}

} // namespace parley::core::report
