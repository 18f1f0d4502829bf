// Repeated samples of an item (trials > 1): pass@k, maj@k, consistency.
#include <parley/core/stats.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace parley::core::stats {

namespace {

void check_clusters(size_t size, size_t k, const char *what) {
    if (k == 0 || size % k != 0)
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(size) + " samples are not items of " +
                                    std::to_string(k) + " trials");
}

} // namespace

double pass_at_k(size_t n, size_t c, size_t k) {
    if (k > n) throw std::invalid_argument("pass@k: k > n");
    if (n - c < k) return 1.0;
    // 1 - prod_{i = n-c+1}^{n} (1 - k / i): Chen et al.'s numerically stable form.
    double prod = 1.0;
    for (size_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
    return 1.0 - prod;
}

std::vector<size_t> pass_ks(size_t n) {
    std::vector<size_t> ks;
    for (size_t k = 1; k < n; k *= 2) ks.push_back(k);
    if (n > 0) ks.push_back(n);
    return ks;
}

std::vector<double> pass_at_k_per_item(const std::vector<double> &values, size_t k, size_t j) {
    check_clusters(values.size(), k, "pass@k");
    std::vector<double> out;
    for (size_t i = 0; i < values.size(); i += k) {
        size_t c = 0;
        for (size_t t = 0; t < k; ++t) c += values[i + t] >= 0.5;
        out.push_back(pass_at_k(k, c, j));
    }
    return out;
}

std::vector<double> consistency_per_item(const std::vector<double> &values, size_t k) {
    check_clusters(values.size(), k, "consistency");
    std::vector<double> out;
    for (size_t i = 0; i < values.size(); i += k) {
        bool same = true;
        for (size_t t = 1; t < k; ++t) same &= (values[i + t] >= 0.5) == (values[i] >= 0.5);
        out.push_back(same ? 1.0 : 0.0);
    }
    return out;
}

std::vector<double> majority_per_item(const std::vector<std::string> &answers, const std::vector<double> &correct, size_t k) {
    if (answers.size() != correct.size()) throw std::invalid_argument("maj@k: answers and outcomes differ in length");
    check_clusters(answers.size(), k, "maj@k");
    std::vector<double> out;
    for (size_t i = 0; i < answers.size(); i += k) {
        // Votes of the non-empty answers; a tie goes to the answer given first.
        std::map<std::string, size_t> votes;
        size_t top = 0;
        for (size_t t = 0; t < k; ++t)
            if (!answers[i + t].empty()) top = std::max(top, ++votes[answers[i + t]]);
        size_t best = k;
        for (size_t t = 0; t < k && best == k; ++t)
            if (!answers[i + t].empty() && votes[answers[i + t]] == top) best = t;
        out.push_back(best < k && correct[i + best] >= 0.5 ? 1.0 : 0.0);
    }
    return out;
}

} // namespace parley::core::stats
