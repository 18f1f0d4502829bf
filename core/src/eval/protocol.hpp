// The evaluation runtime's contract between the scheduler and a protocol.
//
// A protocol (Coral's two-party conversation, the CoT sample, multi-agent debate, ...) is a plain
// state machine per *episode* — one (domain, item, trial). It never sees a thread, an inbox or a
// backend callback: it asks for completions through an Outbox and is handed their results, one
// at a time, on the scheduler's thread (the only thread that calls domains, contract P12). Tests
// drive an episode by hand with a recording Outbox and canned GenerationResults.
//
// The scheduler (scheduler.hpp) owns slots of live episodes, the completion inbox, batched
// submits, admission by backend feedback and the order of work (live episodes first: a new
// episode starts only while admission has room). It is a template over the episode type, so a
// protocol costs no virtual call and no allocation per turn beyond what its own state needs.
//
// An Episode type E provides:
//   void start(Outbox &out);                                   // ask for the first completions
//   void on_result(uint32_t key, GenerationResult &&r, Outbox &out); // one answer; ask for more
//   bool done() const;                                         // finished: hand it to the writer
// plus a default constructor and moves (the scheduler keeps episodes in reusable slots).
// `key` is the episode's own tag for a request (an agent, a candidate...), < kMaxKey. Admission
// counts an episode at SchedulerOptions::first_tokens when it starts; grow() moves that count.
//
// The runtime, one part per file in this folder:
//   protocol.hpp      this contract          scheduler.hpp   slots, inbox, batched submits, admission
//   inbox.hpp         completions -> thread  admission.*     may one more episode start?
//   work_plan.*       items x trials, shards, resume, manifest.json
//   record_thread.hpp finished episodes written on a thread of their own
//   common.hpp        seeds, extractor sampling, finish_name, FailureLog    py_random.hpp  Python's random
//   cot_protocol.*    the CoT sample         coral_protocol.*  Coral's conversation (tree sampling too)
//   coral_record_writer.*  Coral's record format (the reader: sdk/include/parley/coral_record.hpp)
// Results go through core/src/results.cpp; a node file (core/src/<node>.cpp) binds its config,
// builds the plan, makes episodes, runs the scheduler and writes what they leave.
#pragma once

#include <parley/core/components.hpp>

#include <cstdint>

namespace parley::core::eval {

// Requests an episode asks for. A request's message views must stay valid until the scheduler
// sends it (at the end of the current batch of results): point them into the episode's own
// history or into interned strings, not into temporaries.
class Outbox {
  public:
    static constexpr uint32_t kMaxKey = 1u << 16;
    virtual ~Outbox() = default;
    virtual void submit(Backend &backend, const GenerationRequest &q, uint32_t key) = 0;
    // Admission bookkeeping: the episode's resident tokens changed by `delta` (history grew).
    virtual void grow(int64_t delta) = 0;
};

} // namespace parley::core::eval
