// openai/router.hpp — replica choice for the openai backend: least-outstanding balancing, and
// conversation affinity by consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam
// 2018): a conversation goes to the first replica on its ring walk whose load stays within
// ceil(load_factor x (total + 1) / replicas). Pure functions over a load snapshot, so they are
// unit-tested without a network.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parley::openai {

uint64_t mix64(uint64_t x);                 // splitmix64 finaliser
uint64_t hash_text(const std::string &s);   // FNV-1a 64, then mix64

// A consistent-hash ring: `vnodes` points per replica, placed by hashing the replica's key (its URL).
class Ring {
  public:
    explicit Ring(const std::vector<std::string> &keys, int vnodes = 160);
    // Every replica once, in ring order starting at `key`'s position.
    std::vector<int> walk(uint64_t key) const;
    // The first replica on the walk (ignoring load and health).
    int preferred(uint64_t key) const;
    size_t size() const { return n_; }

  private:
    std::vector<std::pair<uint64_t, int>> points_;
    size_t n_ = 0;
};

struct ReplicaLoad {
    int64_t outstanding = 0; // requests in flight on it
    bool up = true;          // not in cool-down
    bool full = false;       // at max_in_flight: cannot take one more
};

struct RouteInput {
    uint64_t conversation = 0; // 0: no affinity
    bool affinity = true;
    double load_factor = 1.25;
    int avoid = -1; // the replica that just failed this request; used only if nothing else can take it
};

// The replica to send to, or -1 when none can take a request now. Only healthy replicas are
// eligible while any replica is healthy (a full healthy one means wait); when none is healthy every
// non-full one is ("panic" routing, so a lone flaky replica still gets its retries). `rr` is a round-robin cursor that breaks ties between equally loaded replicas.
int choose_replica(const Ring &ring, const std::vector<ReplicaLoad> &loads, const RouteInput &in, uint64_t &rr);

} // namespace parley::openai
