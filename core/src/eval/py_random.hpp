// Python's `random` module, as far as Coral's tree sampling uses it: the Mersenne Twister seeded
// as `random.seed(int)` seeds it (init_by_array over the seed's 32-bit words) and `randint(a, b)`
// drawn as CPython draws it (`_randbelow`: getrandbits(n.bit_length()) with rejection). The same
// seed gives the same sequence as CPython 3 (checked against it in tests/core/test_eval_common.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace parley::core {

class PyRandom {
  public:
    explicit PyRandom(uint64_t seed) { this->seed(seed); }

    // random.seed(n) for n >= 0: the key is n's 32-bit words, least significant first.
    void seed(uint64_t n) {
        std::vector<uint32_t> key{static_cast<uint32_t>(n)};
        if (n >> 32) key.push_back(static_cast<uint32_t>(n >> 32));
        init_by_array(key);
    }

    // random.getrandbits(k) for 1 <= k <= 32.
    uint32_t getrandbits(int k) { return next() >> (32 - k); }

    // random.randint(a, b) = a + _randbelow(b - a + 1), for b - a < 2^32 - 1.
    int64_t randint(int64_t a, int64_t b) { return a + static_cast<int64_t>(randbelow(static_cast<uint64_t>(b - a) + 1)); }

  private:
    static constexpr int N = 624, M = 397;

    uint64_t randbelow(uint64_t n) {
        int k = 0;
        while ((n >> k) != 0) ++k; // n.bit_length(): not of n - 1, so n = 1 still draws
        uint64_t r = getrandbits(k);
        while (r >= n) r = getrandbits(k);
        return r;
    }

    void init_genrand(uint32_t s) {
        mt_[0] = s;
        for (int i = 1; i < N; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
        index_ = N;
    }

    void init_by_array(const std::vector<uint32_t> &key) {
        init_genrand(19650218u);
        int i = 1;
        size_t j = 0;
        for (int k = std::max<int>(N, static_cast<int>(key.size())); k; --k) {
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
            ++i, ++j;
            if (i >= N) mt_[0] = mt_[N - 1], i = 1;
            if (j >= key.size()) j = 0;
        }
        for (int k = N - 1; k; --k) {
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
            ++i;
            if (i >= N) mt_[0] = mt_[N - 1], i = 1;
        }
        mt_[0] = 0x80000000u;
    }

    uint32_t next() {
        if (index_ >= N) {
            for (int k = 0; k < N; ++k) {
                uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % N] & 0x7fffffffu);
                mt_[k] = mt_[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
            }
            index_ = 0;
        }
        uint32_t y = mt_[index_++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    std::array<uint32_t, N> mt_{};
    int index_ = N;
};

} // namespace parley::core
