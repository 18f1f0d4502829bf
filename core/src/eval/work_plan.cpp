#include "work_plan.hpp"

#include <parley/core/records.hpp>

#include <fmt/format.h>

#include <set>

namespace parley::core::eval {

using json = nlohmann::json;

WorkPlan::WorkPlan(RunContext &ctx, PlanOptions options) : ctx_(ctx), options_(std::move(options)) {
    manifest_ = {{"node", ctx.node.name}, {"kind", options_.kind}, {"domains", json::object()}};
    if (ctx.shard) manifest_["shard"] = {ctx.shard->first, ctx.shard->second};
    fs::create_directories(ctx.output_dir);
    for (auto &node : ctx.node.inputs.at("domains")) add_domain(node, ctx.domains.at(node));
}

void WorkPlan::add_domain(const std::string &node, Domain *domain) {
    const uint32_t di = static_cast<uint32_t>(domains_.size());
    PlanDomain &pd = domains_.emplace_back();
    pd.node = node;
    pd.domain = domain;
    pd.file = ctx_.output_dir / fmt::format("{}_{}.jsonl", options_.file_prefix, node);
    // Resume: rows already written are kept; their (id, trial) pairs are not run again.
    std::set<std::pair<std::string, int64_t>> done;
    for (auto &row : read_jsonl_for_resume(pd.file))
        if (done.insert(options_.key(row)).second) options_.keep(di, std::move(row));
    pd.resumed = done.size();
    json expected = json::array();
    pd.ids.resize(domain->size());
    for (size_t i = 0; i < domain->size(); ++i) {
        ItemInfo info = domain->item(i);
        if (!ctx_.owns(node, info.id)) continue; // another shard's item
        for (int64_t t = 0; t < options_.trials; ++t) {
            expected.push_back({info.id, t});
            if (!done.count({info.id, t})) units_.push_back({di, static_cast<uint32_t>(t), i});
        }
        pd.ids[i] = std::move(info.id);
    }
    manifest_["domains"][node] = {{"total", domain->size() * static_cast<size_t>(options_.trials)}, {"expected", std::move(expected)},
                                  {"file", pd.file.filename().string()}};
}

size_t WorkPlan::resumed() const {
    size_t n = 0;
    for (auto &d : domains_) n += d.resumed;
    return n;
}

void WorkPlan::write_manifest() const { write_json_atomic(ctx_.output_dir / "manifest.json", manifest_); }

void check_records_unread(const RunContext &ctx) {
    for (auto &other : ctx.graph.nodes)
        for (auto &[port, sources] : other.inputs)
            for (auto &src : sources)
                if (src == ctx.node.name || src.rfind(ctx.node.name + ".", 0) == 0)
                    throw std::runtime_error(fmt::format("nodes.{}.records = false, but node '{}' reads its records (port '{}')",
                                                         ctx.node.name, other.name, port));
}

std::pair<std::string, int64_t> id_trial_of(const nlohmann::json &row) {
    return {row.value("id", std::string()), row.value("trial", int64_t{0})};
}

std::vector<std::unique_ptr<JsonlAppender>> WorkPlan::open_writers(bool keep, const std::string &output) const {
    std::vector<std::unique_ptr<JsonlAppender>> writers(domains_.size());
    if (!keep) return writers;
    for (size_t d = 0; d < domains_.size(); ++d) {
        writers[d] = std::make_unique<JsonlAppender>(domains_[d].file);
        ctx_.outputs[ctx_.node.name][output].push_back(domains_[d].file);
    }
    return writers;
}

std::vector<DomainItem> WorkPlan::items() const {
    std::vector<DomainItem> out;
    out.reserve(units_.size());
    for (auto &u : units_) out.emplace_back(*domains_[u.domain].domain, u.index);
    return out;
}

} // namespace parley::core::eval
