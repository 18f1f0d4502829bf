#include "router.hpp"

#include <algorithm>
#include <cmath>

namespace parley::openai {

uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t hash_text(const std::string &s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return mix64(h);
}

Ring::Ring(const std::vector<std::string> &keys, int vnodes) : n_(keys.size()) {
    if (vnodes < 1) vnodes = 1;
    points_.reserve(keys.size() * static_cast<size_t>(vnodes));
    for (size_t r = 0; r < keys.size(); ++r)
        for (int v = 0; v < vnodes; ++v)
            points_.emplace_back(hash_text(keys[r] + "#" + std::to_string(v)), static_cast<int>(r));
    std::sort(points_.begin(), points_.end());
}

std::vector<int> Ring::walk(uint64_t key) const {
    std::vector<int> order;
    if (points_.empty()) return order;
    order.reserve(n_);
    std::vector<char> seen(n_, 0);
    auto it = std::lower_bound(points_.begin(), points_.end(), std::make_pair(key, -1));
    size_t start = static_cast<size_t>(it - points_.begin());
    for (size_t i = 0; i < points_.size() && order.size() < n_; ++i) {
        int r = points_[(start + i) % points_.size()].second;
        if (!seen[r]) {
            seen[r] = 1;
            order.push_back(r);
        }
    }
    return order;
}

int Ring::preferred(uint64_t key) const {
    auto w = walk(key);
    return w.empty() ? -1 : w.front();
}

int choose_replica(const Ring &ring, const std::vector<ReplicaLoad> &loads, const RouteInput &in, uint64_t &rr) {
    const int n = static_cast<int>(loads.size());
    // Healthy replicas only, unless none is healthy at all ("panic"); a healthy but full replica
    // means "wait", never "send to a broken one".
    bool any_up = false;
    for (int i = 0; i < n; ++i) any_up = any_up || loads[i].up;
    std::vector<char> eligible(n, 0);
    int n_eligible = 0;
    for (int i = 0; i < n; ++i) {
        eligible[i] = !loads[i].full && (!any_up || loads[i].up);
        n_eligible += eligible[i];
    }
    if (n_eligible == 0) return -1;
    if (in.avoid >= 0 && in.avoid < n && eligible[in.avoid] && n_eligible > 1) {
        eligible[in.avoid] = 0;
        --n_eligible;
    }

    if (in.affinity && in.conversation != 0 && ring.size() == loads.size()) {
        int64_t total = 0;
        for (int i = 0; i < n; ++i)
            if (eligible[i]) total += loads[i].outstanding;
        double lf = in.load_factor < 1.0 ? 1.0 : in.load_factor;
        auto bound = static_cast<int64_t>(std::ceil(lf * static_cast<double>(total + 1) / n_eligible));
        for (int r : ring.walk(mix64(in.conversation)))
            if (eligible[r] && loads[r].outstanding + 1 <= bound) return r;
    }

    // Least outstanding; ties rotate through the round-robin cursor.
    int best = -1;
    for (int k = 0; k < n; ++k) {
        int i = static_cast<int>((rr + static_cast<uint64_t>(k)) % static_cast<uint64_t>(n));
        if (eligible[i] && (best < 0 || loads[i].outstanding < loads[best].outstanding)) best = i;
    }
    ++rr;
    return best;
}

} // namespace parley::openai
