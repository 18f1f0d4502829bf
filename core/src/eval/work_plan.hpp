// The work plan of an evaluation node: every (domain, item, trial) its shard owns, minus what a
// previous run already wrote (resume), and the manifest that tells `parley merge` what this run
// owes. One plan per node run; items are read once, here, in the graph's domain order.
//
//   WorkPlan plan(ctx, {"records", "records", trials, key_of_record, keep_record});
//   plan.write_manifest();               // manifest.json in the node's output folder
//   for (size_t i = 0; i < plan.size(); ++i) plan.unit(i) ...   // what is left to run, in order
#pragma once

#include "item.hpp"

#include <parley/core/records.hpp>
#include <parley/core/run.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace parley::core::eval {

// One (domain, item, trial) to run. Compact: a plan of 100k units is a few MB.
struct WorkUnit {
    uint32_t domain = 0; // index into WorkPlan::domains()
    uint32_t trial = 0;
    size_t index = 0;    // the item's index in its domain
};

struct PlanDomain {
    std::string node;       // the domain node's name
    Domain *domain = nullptr;
    fs::path file;          // <file_prefix>_<node>.jsonl in the output folder
    std::vector<std::string> ids; // item ids, by item index ("" for another shard's items)
    size_t resumed = 0;     // finished (item, trial)s kept from an earlier run
};

struct PlanOptions {
    std::string kind;        // the manifest's "kind": "records", "samples"
    std::string file_prefix; // "records" -> records_<domain>.jsonl
    int64_t trials = 1;
    // A finished row's (item id, trial), read from the file on resume.
    std::function<std::pair<std::string, int64_t>(const nlohmann::json &)> key;
    // Each finished row kept (the first per (id, trial)), in file order, with its domain's index.
    std::function<void(uint32_t domain, nlohmann::json &&row)> keep;
};

// The (item id, trial) of a row that carries them at its top level (samples, debate and
// self-consistency records): the usual PlanOptions::key.
std::pair<std::string, int64_t> id_trial_of(const nlohmann::json &row);

// `records = false` (as lm-eval without --log_samples): throws if another node reads this node's records.
void check_records_unread(const RunContext &ctx);

class WorkPlan {
  public:
    WorkPlan(RunContext &ctx, PlanOptions options);

    size_t size() const { return units_.size(); }
    const WorkUnit &unit(size_t i) const { return units_[i]; }
    // One DomainItem per unit, in the plan's order (what protocols that only render and score need).
    std::vector<DomainItem> items() const;
    const std::vector<PlanDomain> &domains() const { return domains_; }
    const PlanDomain &domain(const WorkUnit &u) const { return domains_[u.domain]; }
    const std::string &item_id(const WorkUnit &u) const { return domains_[u.domain].ids[u.index]; }
    size_t resumed() const;
    void write_manifest() const; // manifest.json: every (item, trial) of this shard, per domain
    // One appender per domain's file, each registered as the node's output `output` (none, all
    // null, when `keep` is false: `records = false`).
    std::vector<std::unique_ptr<JsonlAppender>> open_writers(bool keep, const std::string &output) const;

  private:
    void add_domain(const std::string &node, Domain *domain);

    RunContext &ctx_;
    PlanOptions options_;
    std::vector<PlanDomain> domains_;
    std::vector<WorkUnit> units_;
    nlohmann::json manifest_;
};

} // namespace parley::core::eval
