// Coral's two-party conversation as a protocol (protocol.hpp): a plain state machine per
// (domain, item, trial) that tests drive with a recording Outbox and canned results.
//
// Turn 0 is the asker's task message; the roles then alternate, each seeing its own turns as
// `assistant` and the other's as `user` (Matrix's profile adds a dummy "hi" turn). Every turn is
// one request (with tree sampling, `beam` = k candidates from one request with n = k); each
// candidate's belief is extracted (the domain's extractor prompt on the extractor backend, one
// request per candidate, or by rule) and scored; then one candidate is kept (a seeded pick with
// tree sampling; the others become its siblings) and the conversation stops on agreement
// (agreement.hpp), at max_turns, or at a failed request (single sampling; Coral's conv_err).
#pragma once

#include "common.hpp"
#include "protocol.hpp"
#include "py_random.hpp"
#include "token_usage.hpp"

#include <parley/core/agreement.hpp>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace parley::core::eval {

struct CoralRole {
    std::string name;           // "teacher", "student"
    Backend *backend = nullptr;
    std::string system_prompt;  // "collaborate", "cot", "none" or literal text (rendered per item)
    double temperature = 0.2;
    int32_t max_tokens = 1024;
    // What others see of this role's reasoning (a reasoning model's thinking, apart from its
    // answer): the partner, and the belief extractor; false = none, true = all (with_reasoning).
    bool reasoning_to_partner = false, reasoning_to_extractor = false;
};

struct CoralConfig {
    AgreementProfile profile = AgreementProfile::Coral;
    std::vector<CoralRole> roles; // speak in this order after turn 0 (index = the request's agent id)
    size_t first_speaker = 0;     // the role answering turn 0 (the other asks it)
    Backend *extractor = nullptr;
    bool llm_extraction = true;
    bool fixed_seed = false;      // seed_mode "fixed": `base_seed` on every request, picks from one stream
    uint64_t base_seed = 42;
    int max_turns = 20, beam = 1;
    double top_p = 0.9, min_p = 0.0;
    int32_t top_k = 0, extractor_max_tokens = 32;
    std::vector<std::string> stop;
    bool reasoning_records = true; // records keep each turn's reasoning (in its "parley" block)
};

// Strings many conversations share (system prompts, beliefs), stored once.
class InternPool {
  public:
    const std::string *intern(std::string s) { return &*pool_.insert(std::move(s)).first; }

  private:
    std::unordered_set<std::string> pool_; // node-based: element addresses are stable
};

// What every conversation of a run shares (scheduler thread only).
struct CoralShared {
    explicit CoralShared(CoralConfig c, std::string node)
        : config(std::move(c)), picks(config.base_seed), failures(std::move(node)) {}
    CoralConfig config;
    InternPool strings;
    PyRandom picks; // seed_mode "fixed": Coral's rand_pick_one on Python's global Mersenne Twister
    FailureLog failures;
    GenerationRequest scratch; // reused for agent requests: its vectors keep their capacity
    int64_t tokens = 0, turns = 0; // completion tokens of the agents; candidate turns done
    RoleUsage usage;               // tokens by role (the roles' names, "extractor")
};

// Everything an LLM extractor call leaves behind (absent with rule-based extraction).
struct ExtractorIO {
    std::string prompt, response;
};

// A turn's reasoning (absent for a model that does not think): the text, and the turn as the
// partner sees it when its role shows reasoning (empty otherwise).
struct TurnReasoning {
    std::string text, shown;
};

// One turn, kept small: at 100k conversations in flight, bytes per turn are the memory budget.
struct CoralTurn {
    std::string content;                 // the text (the error message for a failed request)
    const std::string *belief = nullptr; // interned normalised belief
    std::unique_ptr<ExtractorIO> extractor;
    int32_t prompt_tokens = 0, cached_tokens = 0;
    int32_t completion_tokens = 0;         // this candidate's; -1 unknown (a server's n > 1 reply)
    int32_t request_completion_tokens = 0; // the whole request's (all its candidates)
    int32_t reasoning_tokens = 0;          // of completion_tokens, reasoning; -1 unknown
    std::unique_ptr<TurnReasoning> reasoning;
    float score = 0.0f;
    uint8_t role = 0; // index into roles; the asker of turn 0 too
    int8_t finish = PARLEY_FINISH_NONE;
    bool status_ok = true, annotated = false, valid = false, extractor_ok = true, agreement = false;
    bool stop_conv = false; // tree sampling: would this candidate end the conversation?
    std::unique_ptr<std::vector<CoralTurn>> siblings; // tree sampling: the candidates not chosen
};

class CoralEpisode {
  public:
    CoralEpisode() = default;
    // `domain_node` and `item_id` must outlive the episode (the work plan's).
    CoralEpisode(CoralShared &shared, const std::string &domain_node, Domain &domain, size_t index, int trial,
                 const std::string &item_id, uint64_t conversation_id);

    void start(Outbox &out);
    void on_result(uint32_t key, GenerationResult &&r, Outbox &out);
    bool done() const { return stage_ == Stage::Done; }

    // The conversation, for the record writer.
    const std::string &domain_node() const { return *domain_node_; }
    Domain &domain() const { return *domain_; }
    size_t index() const { return index_; }
    int trial() const { return trial_; }
    uint64_t seed() const { return seed_; }
    const std::string &item_id() const { return *item_id_; }
    const std::vector<CoralTurn> &turns() const { return turns_; }
    const std::string &system(size_t role) const { return *system_[role]; }

  private:
    enum class Stage { Idle, Speaking, Extracting, Done };
    void speak(Outbox &out);
    void on_spoken(GenerationResult &&r, Outbox &out);
    void extract(size_t k, Outbox &out);
    void annotate(CoralTurn &t, const GenerationResult *extractor_result);
    bool agrees(const CoralTurn &last) const;
    size_t pick_candidate();
    void decide(Outbox &out);
    std::string system_text(const CoralRole &r) const;
    std::string where() const;

    CoralShared *shared_ = nullptr;
    const std::string *domain_node_ = nullptr, *item_id_ = nullptr;
    Domain *domain_ = nullptr;
    const std::string *system_[2] = {nullptr, nullptr}; // interned, per role
    size_t index_ = 0;
    int trial_ = 0;
    uint64_t seed_ = 0, id_ = 0; // id: the affinity id its requests carry
    int64_t resident_ = 0;       // the tokens admission counts for it (every agent's view of the history)
    size_t next_role_ = 0;
    std::vector<CoralTurn> turns_;
    std::vector<CoralTurn> candidates_; // this turn's samples, while their beliefs are extracted
    int pending_ = 0;                   // extractor calls outstanding for them
    Stage stage_ = Stage::Idle;
};

} // namespace parley::core::eval
