// Statistics for results people can trust (#16): percentile-bootstrap intervals of a mean (items
// resampled with their trials), paired bootstrap of a difference, the exact McNemar test, and the
// repeated-sampling metrics pass@k (Chen et al. 2021's unbiased estimator), maj@k and per-item
// consistency. Deterministic: every resampling is seeded, and the seed and resample count are
// written next to the intervals they made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::core::stats {

struct Interval {
    double lo = 0, hi = 0;
};

struct Bootstrap {
    size_t resamples = 1000;
    uint64_t seed = 20250101; // combined with a key (domain, metric) so each interval has its own stream
    double level = 0.95;
};

// The seed a bootstrap of `key` uses: spec.seed mixed with the key's hash.
uint64_t seed_for(const Bootstrap &spec, const std::string &key);

// Resampled means of `values`, grouped in clusters of `cluster` consecutive values (an item's
// trials; 1 = independent samples): clusters are drawn with replacement. `seed` as seed_for().
std::vector<double> bootstrap_means(const std::vector<double> &values, size_t cluster, size_t resamples, uint64_t seed);
// The percentile interval of resampled statistics at `level` (sorts `draws`).
Interval percentile(std::vector<double> draws, double level);
// Both at once: the interval of the mean of `values`.
Interval bootstrap_ci(const std::vector<double> &values, size_t cluster, const Bootstrap &spec, const std::string &key);

// Paired: the interval of mean(b - a) over pairs (a[i], b[i]), pairs resampled together.
Interval paired_bootstrap_ci(const std::vector<double> &a, const std::vector<double> &b, const Bootstrap &spec,
                             const std::string &key);

// The exact (binomial) McNemar test on paired 0/1 outcomes: `a_only` pairs where only a is
// correct, `b_only` where only b is; p is two-sided, min(1, 2 * P[X <= min] for X ~ Bin(n, 1/2)).
struct McNemar {
    size_t a_only = 0, b_only = 0;
    double p = 1;
};
McNemar mcnemar_exact(const std::vector<double> &a, const std::vector<double> &b);
double mcnemar_p(size_t a_only, size_t b_only);

// pass@k of one item with n samples of which c are correct: 1 - C(n-c, k) / C(n, k).
double pass_at_k(size_t n, size_t c, size_t k);
// The k values reported for n trials: 1, 2, 4, ... below n, and n.
std::vector<size_t> pass_ks(size_t n);
// Per item (clusters of `k` consecutive 0/1 values): pass@j averaged over items, for each j.
std::vector<double> pass_at_k_per_item(const std::vector<double> &values, size_t k, size_t j);
// Per item: 1 when all its k trials have the same outcome, else 0.
std::vector<double> consistency_per_item(const std::vector<double> &values, size_t k);
// Per item: whether the answer most of its k trials gave (ties: the one given first) is correct.
// `answers[i]` and `correct[i]` are sample i's; items are clusters of k consecutive samples.
std::vector<double> majority_per_item(const std::vector<std::string> &answers, const std::vector<double> &correct, size_t k);

} // namespace parley::core::stats
