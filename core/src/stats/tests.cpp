// The exact McNemar test on paired 0/1 outcomes.
#include <parley/core/stats.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace parley::core::stats {

double mcnemar_p(size_t a_only, size_t b_only) {
    const size_t n = a_only + b_only, k = std::min(a_only, b_only);
    if (n == 0) return 1.0;
    // P[X <= k], X ~ Bin(n, 1/2), summed in log space (n may be large).
    const double ln2n = static_cast<double>(n) * std::log(2.0), lgn = std::lgamma(static_cast<double>(n) + 1);
    double tail = 0;
    for (size_t i = 0; i <= k; ++i)
        tail += std::exp(lgn - std::lgamma(static_cast<double>(i) + 1) - std::lgamma(static_cast<double>(n - i) + 1) - ln2n);
    return std::min(1.0, 2 * tail);
}

McNemar mcnemar_exact(const std::vector<double> &a, const std::vector<double> &b) {
    if (a.size() != b.size()) throw std::invalid_argument("McNemar: the two sides differ in length");
    McNemar m;
    for (size_t i = 0; i < a.size(); ++i) {
        const bool x = a[i] >= 0.5, y = b[i] >= 0.5;
        m.a_only += x && !y;
        m.b_only += y && !x;
    }
    m.p = mcnemar_p(m.a_only, m.b_only);
    return m;
}

} // namespace parley::core::stats
