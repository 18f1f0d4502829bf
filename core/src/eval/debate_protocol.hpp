// Multi-agent debate (Du et al., 2023) as a state machine per episode (one item, one trial).
//
// N agents, each with its own backend, sampling and system prompt, answer the task
// independently (round 0). In each later round every agent is shown the other agents' answers
// from the previous round and answers again (rounds are simultaneous, as in the released code:
// a round starts when every answer of the previous one is in). After every answer its belief
// is extracted (by rule, or by the domain's LLM extractor prompt, which runs while the next
// round is already under way). The episode's answer per round is the majority vote of the
// agents' valid beliefs (majority_vote.hpp: ties go to the lowest agent index). Prompts:
// core/src/eval/README.md, "Multi-agent debate".
//
// Requests carry key = ((round * agents + agent) << 1) | is_extractor_call. Agent `a`'s request
// in round `r` is seeded request_seed(episode seed, r * agents + a); every request of an agent
// carries conversation = episode seed | 1 and agent = a, so a backend keeps each agent's prefix.
#pragma once

#include "agent.hpp"
#include "answer.hpp"
#include "episode_id.hpp"
#include "item.hpp"
#include "majority_vote.hpp"
#include "protocol.hpp"
#include "token_usage.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace parley::core::eval {

// The debate message shapes of the released code, with the answer format left to the domain
// (its system prompt states it; see the README). `{solutions}` is replaced by one
// `solution` per other agent, `{answer}` in it by that agent's previous answer.
struct DebatePrompts {
    std::string debate = "These are the solutions to the problem from other agents: {solutions}\n\n Using the reasoning "
                         "from other agents as additional advice, can you give an updated answer? Examine your solution "
                         "and that other agents step by step. Give your final answer at the end of your response, in the "
                         "format the instructions ask for.";
    std::string solution = "\n\n One agent solution: ```{answer}```";
    // One agent (or nobody else answered): the released code's self-reflection message.
    std::string reflect = "Can you double check that your answer is correct. Give your final answer at the end of your "
                          "response, in the format the instructions ask for.";
};

struct DebateConfig {
    std::vector<AgentSpec> agents; // N >= 1
    int32_t rounds = 2;            // including round 0 (the released code's default: 2)
    ExtractionSpec extraction;
    DebatePrompts prompts;
    RoleUsage *usage = nullptr; // (optional) where every result's tokens are counted, by role (the scheduler's thread)

    // Throws std::invalid_argument naming the field when the shape cannot run.
    void check() const;
    // Admission estimate of an episode at start: every agent's first answer at its token limit.
    int64_t first_tokens() const;
};

class DebateEpisode {
  public:
    DebateEpisode() = default; // (the scheduler's empty slots)
    DebateEpisode(const DebateConfig &config, const Item &item, EpisodeId id);

    void start(Outbox &out);
    void on_result(uint32_t key, GenerationResult &&r, Outbox &out);
    bool done() const { return outstanding_ == 0 && started_ == config_->rounds; }
    int64_t first_tokens() const { return config_->first_tokens(); }

    const EpisodeId &id() const { return id_; }
    const DebateConfig &config() const { return *config_; }
    const Answer &answer(int32_t round, size_t agent) const { return answers_[index(round, agent)]; }
    // Agent `agent`'s system message ("" when it has none).
    const std::string &system_prompt(size_t agent) const { return system_texts_.at(system_of_.at(agent)); }
    // The message answer (round, agent) replies to: the task in round 0, else its debate message.
    const std::string &message(int32_t round, size_t agent) const { return round == 0 ? task_ : answer(round, agent).user; }
    // The majority of round `round`'s valid beliefs.
    VoteOutcome majority(int32_t round) const;
    // Agents' completion tokens over all rounds (extractor calls not counted), and the extractor's.
    int64_t completion_tokens() const;
    int64_t extractor_tokens() const { return extractor_tokens_; }

  private:
    size_t index(int32_t round, size_t agent) const { return static_cast<size_t>(round) * config_->agents.size() + agent; }
    void start_round(int32_t round, Outbox &out);
    std::string debate_message(int32_t round, size_t agent) const;
    void on_answer(int32_t round, size_t agent, GenerationResult &&r, Outbox &out);

    const DebateConfig *config_ = nullptr;
    const Item *item_ = nullptr;
    EpisodeId id_;
    // Agent a's chat is its system message (when it has one), then per round its answer's `user`
    // and `response`: requests view these strings, which stay put (answers_ is sized at start).
    // Texts every agent shares are rendered once per episode: the task (round 0's message; those
    // answers' `user` stays empty) and each distinct system prompt.
    std::string task_;
    std::vector<std::string> system_texts_; // distinct system prompts
    std::vector<uint32_t> system_of_;       // per agent: index into system_texts_
    std::vector<Answer> answers_;      // [round * agents + agent]
    std::vector<int64_t> resident_; // per agent: tokens of its chat, for admission
    std::string extractor_system_;
    std::vector<int32_t> answered_; // per round: answers received
    int32_t started_ = 0;           // rounds started
    int32_t outstanding_ = 0;       // requests sent, results not yet received
    int64_t extractor_tokens_ = 0;
};

} // namespace parley::core::eval
