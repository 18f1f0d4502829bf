// Percentile bootstrap of a mean and of a paired difference (seeded, clusters resampled whole).
#include <parley/core/hash.hpp>
#include <parley/core/stats.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace parley::core::stats {

namespace {

// xoshiro256** seeded through splitmix64: fast, and the same stream on every platform.
class Rng {
  public:
    explicit Rng(uint64_t seed) {
        for (auto &w : s_) w = splitmix(seed);
    }
    uint64_t next() {
        const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
        s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3], s_[2] ^= t, s_[3] = rotl(s_[3], 45);
        return r;
    }
    // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for any n we see).
    size_t below(size_t n) { return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix(uint64_t &x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    uint64_t s_[4];
};

} // namespace

uint64_t seed_for(const Bootstrap &spec, const std::string &key) { return spec.seed ^ fnv1a(key); }

std::vector<double> bootstrap_means(const std::vector<double> &values, size_t cluster, size_t resamples, uint64_t seed) {
    if (cluster == 0 || values.size() % cluster != 0)
        throw std::invalid_argument("bootstrap: " + std::to_string(values.size()) + " values are not clusters of " +
                                    std::to_string(cluster));
    std::vector<double> draws;
    if (values.empty()) return draws;
    const size_t n = values.size() / cluster;
    std::vector<double> sums(n, 0.0); // one total per cluster: a draw adds clusters whole
    for (size_t i = 0; i < values.size(); ++i) sums[i / cluster] += values[i];
    Rng rng(seed);
    draws.reserve(resamples);
    for (size_t r = 0; r < resamples; ++r) {
        double total = 0;
        for (size_t i = 0; i < n; ++i) total += sums[rng.below(n)];
        draws.push_back(total / static_cast<double>(values.size()));
    }
    return draws;
}

Interval percentile(std::vector<double> draws, double level) {
    if (draws.empty()) return {};
    std::sort(draws.begin(), draws.end());
    const double tail = (1 - level) / 2;
    // The nearest-rank percentiles: draws[ceil(q * R) - 1], clamped to the sample.
    auto at = [&](double q) {
        const auto rank = static_cast<long>(std::ceil(q * static_cast<double>(draws.size())));
        return draws[static_cast<size_t>(std::clamp<long>(rank - 1, 0, static_cast<long>(draws.size()) - 1))];
    };
    return {at(tail), at(1 - tail)};
}

Interval bootstrap_ci(const std::vector<double> &values, size_t cluster, const Bootstrap &spec, const std::string &key) {
    return percentile(bootstrap_means(values, cluster, spec.resamples, seed_for(spec, key)), spec.level);
}

Interval paired_bootstrap_ci(const std::vector<double> &a, const std::vector<double> &b, const Bootstrap &spec,
                             const std::string &key) {
    if (a.size() != b.size()) throw std::invalid_argument("paired bootstrap: the two sides differ in length");
    std::vector<double> d(a.size());
    for (size_t i = 0; i < a.size(); ++i) d[i] = b[i] - a[i];
    return bootstrap_ci(d, 1, spec, key);
}

} // namespace parley::core::stats
