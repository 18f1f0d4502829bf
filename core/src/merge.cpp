// `parley merge`: joins the outputs of a sharded run (<output_dir>/shard-<i>-of-<n>/<node>/)
// into <output_dir>/<node>/, checking that every (item, trial) of every domain appears exactly
// once across the shards, then recomputes the summaries from the joined rows.
#include <parley/core/coral_metrics.hpp>
#include <parley/core/log.hpp>
#include <parley/core/merge.hpp>
#include <parley/core/records.hpp>
#include <parley/core/results.hpp>
#include "eval/debate_record.hpp"
#include "eval/self_consistency_record.hpp"

#include <fmt/format.h>

#include <fstream>
#include <regex>
#include <set>

namespace parley::core {

using json = nlohmann::json;

namespace {

std::pair<std::string, int64_t> key_of(const json &row, const std::string &kind) {
    if (kind == "records") {
        const json &p = row.value("parley", json::object());
        return {p.value("id", std::string()), p.value("trial", int64_t{0})};
    }
    return {row.value("id", std::string()), row.value("trial", int64_t{0})};
}

// Debate and self-consistency rows: their metrics' means and errors, tallied as the nodes do.
template <class Tally> json protocol_summary(const std::vector<json> &rows) {
    Tally tally;
    for (auto &r : rows) tally.add(r);
    json out = {{"items", tally.count()}};
    for (auto &[metric, values] : tally.metrics()) {
        const Estimate e = estimate_of(values);
        out[metric] = e.mean;
        out[metric + "_stderr"] = e.error;
    }
    return out;
}

} // namespace

int merge_shards(const fs::path &root, const std::vector<std::string> &only_nodes) {
    static const std::regex shard_dir(R"(shard-(\d+)-of-(\d+))");
    std::map<int, fs::path> shards;
    int count = -1;
    for (auto &e : fs::directory_iterator(root)) {
        std::smatch m;
        std::string name = e.path().filename().string();
        if (!e.is_directory() || !std::regex_match(name, m, shard_dir)) continue;
        int i = std::stoi(m[1]), n = std::stoi(m[2]);
        if (count >= 0 && n != count)
            throw std::runtime_error(fmt::format("{}: shards of different counts ({} and {})", root.string(), count, n));
        count = n;
        shards[i] = e.path();
    }
    if (count < 0) throw std::runtime_error(fmt::format("{}: no shard-<i>-of-<n> folders to merge", root.string()));
    for (int i = 0; i < count; ++i)
        if (!shards.count(i)) throw std::runtime_error(fmt::format("{}: shard {} of {} is missing", root.string(), i, count));

    // Nodes with a manifest in shard 0.
    std::vector<std::string> nodes;
    for (auto &e : fs::directory_iterator(shards[0]))
        if (fs::exists(e.path() / "manifest.json") &&
            (only_nodes.empty() || std::find(only_nodes.begin(), only_nodes.end(), e.path().filename().string()) != only_nodes.end()))
            nodes.push_back(e.path().filename().string());
    if (nodes.empty()) throw std::runtime_error(fmt::format("{}: no evaluation outputs (manifest.json) in the shards", shards[0].string()));

    std::vector<std::string> problems;
    for (auto &node : nodes) {
        json summary = json::object();
        fs::path out_dir = root / node;
        fs::create_directories(out_dir);
        json first_manifest;
        {
            std::ifstream in(shards[0] / node / "manifest.json");
            first_manifest = json::parse(in);
        }
        const std::string kind = first_manifest.value("kind", "records");
        for (auto &[domain, info] : first_manifest["domains"].items()) {
            const size_t total = info.value("total", size_t{0});
            const std::string file = info.value("file", std::string());
            std::set<std::pair<std::string, int64_t>> seen, expected_all;
            size_t expected_count = 0;
            std::vector<json> rows;
            for (auto &[i, dir] : shards) {
                std::ifstream min(dir / node / "manifest.json");
                if (!min) {
                    problems.push_back(fmt::format("shard {}: {}/manifest.json is missing", i, node));
                    continue;
                }
                json manifest = json::parse(min);
                std::set<std::pair<std::string, int64_t>> expected;
                for (auto &k : manifest["domains"][domain]["expected"]) expected.insert({k[0].get<std::string>(), k[1].get<int64_t>()});
                expected_count += expected.size();
                for (auto &k : expected)
                    if (!expected_all.insert(k).second)
                        problems.push_back(fmt::format("{}/{}: item {} trial {} is owed by two shards", node, domain, k.first, k.second));
                size_t from_shard = 0;
                for (auto &row : read_jsonl_for_resume(dir / node / file)) {
                    auto k = key_of(row, kind);
                    if (!expected.count(k))
                        problems.push_back(fmt::format("{}/{}: shard {} holds item {} trial {} it does not own", node, domain, i, k.first, k.second));
                    else if (!seen.insert(k).second)
                        problems.push_back(fmt::format("{}/{}: item {} trial {} appears twice", node, domain, k.first, k.second));
                    else {
                        rows.push_back(std::move(row));
                        ++from_shard;
                    }
                }
                if (from_shard < expected.size())
                    problems.push_back(fmt::format("{}/{}: shard {} finished {} of its {} (item, trial) pairs (re-run it to resume)",
                                                   node, domain, i, from_shard, expected.size()));
            }
            if (expected_count != total)
                problems.push_back(fmt::format("{}/{}: the shards owe {} (item, trial) pairs, the data has {}", node, domain, expected_count, total));
            // Joined rows and their summary.
            {
                std::ofstream out(out_dir / file, std::ios::trunc);
                for (auto &r : rows) out << r.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            }
            if (kind == "records") {
                MetricsAccumulator acc;
                for (auto &r : rows) {
                    if (r.contains("metrics")) acc.add(r["metrics"]);
                }
                write_json_atomic(out_dir / fmt::format("metrics_{}.json", domain), acc.means());
                summary[domain] = {{"conversations", acc.count()}, {"metrics", acc.means()}, {"stderr", acc.stderrs()}};
            } else if (kind == "debate") {
                summary[domain] = protocol_summary<eval::DebateTally>(rows);
            } else if (kind == "self_consistency") {
                summary[domain] = protocol_summary<eval::SelfConsistencyTally>(rows);
            } else {
                std::vector<double> correct;
                for (auto &r : rows) correct.push_back(r.value("correct", false) ? 1.0 : 0.0);
                double mean = 0;
                for (double x : correct) mean += x;
                mean = correct.empty() ? 0.0 : mean / correct.size();
                summary[domain] = {{"samples", correct.size()}, {"final_success_rate", mean}, {"final_success_rate_stderr", mean_stderr(correct)}};
            }
            logger().info("merged {}/{}: {} rows from {} shards", node, domain, rows.size(), count);
        }
        json doc = {{"merged_from", count}, {"node", node}, {"kind", kind}, {"results", summary}};
        doc.update(provenance());
        write_json_atomic(out_dir / "merged.json", doc);
    }
    for (auto &p : problems) logger().error("{}", p);
    if (!problems.empty()) {
        logger().error("merge found {} problem(s); merged files are incomplete", problems.size());
        return 1;
    }
    logger().info("merged {} shards of {} node(s) into {}: every (item, trial) exactly once", count, nodes.size(), root.string());
    return 0;
}

} // namespace parley::core
