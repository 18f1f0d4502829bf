// The order Results::add_samples expects (results.hpp): a domain's samples item by item, in the
// work plan's item order, each item's trials consecutive. An evaluation's rows arrive otherwise:
// kept rows in file order (resume), then finished ones in completion order. Each is noted with its
// (item id, trial); arrange() then puts any per-sample values into the expected order.
//
//   SampleOrder order;  order.note(id, trial);  ...            // one per sample, as values are added
//   const SampleOrder::Arrangement a = order.arrange(plan_domain.ids, trials);
//   results.trials(a.trials);  results.add_samples(d, m, a.apply(values));
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley::core::eval {

class SampleOrder {
  public:
    void note(std::string id, int64_t trial) { keys_.emplace_back(std::move(id), trial); }
    size_t size() const { return keys_.size(); }

    struct Arrangement {
        std::vector<size_t> order; // order[i]: the noted position of the i-th sample in plan order
        size_t trials = 1;         // k when every item has exactly trials 0 … k-1, else 1 (independent samples)
        // `values` (one per noted sample, in the order noted) in plan order; values of another
        // length (a metric some samples lack) are returned as they are.
        template <class T> std::vector<T> apply(const std::vector<T> &values) const {
            if (values.size() != order.size()) return values;
            std::vector<T> out;
            out.reserve(values.size());
            for (size_t i : order) out.push_back(values[i]);
            return out;
        }
    };

    // Sorted by (the item's index in `ids`, trial); samples of items not in `ids` go last, as noted.
    Arrangement arrange(const std::vector<std::string> &ids, int64_t trials) const {
        std::unordered_map<std::string, size_t> index;
        for (size_t i = 0; i < ids.size(); ++i)
            if (!ids[i].empty()) index.emplace(ids[i], i);
        std::vector<std::pair<size_t, int64_t>> at(keys_.size());
        for (size_t i = 0; i < keys_.size(); ++i) {
            auto it = index.find(keys_[i].first);
            at[i] = {it == index.end() ? ids.size() : it->second, keys_[i].second};
        }
        Arrangement a;
        a.order.resize(keys_.size());
        std::iota(a.order.begin(), a.order.end(), size_t{0});
        std::stable_sort(a.order.begin(), a.order.end(), [&](size_t x, size_t y) { return at[x] < at[y]; });
        a.trials = trials > 1 && complete(a.order, at, ids.size(), trials) ? static_cast<size_t>(trials) : 1;
        return a;
    }

  private:
    // Each item noted (and in the plan) has trials 0 … k-1, each once.
    static bool complete(const std::vector<size_t> &order, const std::vector<std::pair<size_t, int64_t>> &at, size_t n_ids,
                         int64_t k) {
        if (order.size() % static_cast<size_t>(k) != 0) return false;
        for (size_t i = 0; i < order.size(); ++i) {
            const auto &[item, trial] = at[order[i]];
            if (item == n_ids || trial != static_cast<int64_t>(i % k)) return false;
            if (i % k && item != at[order[i - 1]].first) return false;
        }
        return true;
    }
    std::vector<std::pair<std::string, int64_t>> keys_;
};

} // namespace parley::core::eval
