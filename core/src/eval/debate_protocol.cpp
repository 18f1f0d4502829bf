#include "debate_protocol.hpp"

#include "common.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace parley::core::eval {

namespace {

// `text` with every `{name}` replaced by `value`.
std::string fill(std::string text, std::string_view name, std::string_view value) {
    const std::string token = fmt::format("{{{}}}", name);
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + value.size()))
        text.replace(at, token.size(), value);
    return text;
}

} // namespace

void DebateConfig::check() const {
    if (agents.empty()) throw std::invalid_argument("agents: a debate needs at least one agent");
    if (rounds < 1) throw std::invalid_argument("rounds: at least 1 (round 0, the independent answers)");
    if (static_cast<uint64_t>(rounds) * agents.size() * 2 > Outbox::kMaxKey)
        throw std::invalid_argument(fmt::format("agents x rounds: at most {} answers per item", Outbox::kMaxKey / 2));
    for (size_t a = 0; a < agents.size(); ++a)
        if (!agents[a].backend) throw std::invalid_argument(fmt::format("agent {}: no backend", a));
    if (prompts.debate.find("{solutions}") == std::string::npos)
        throw std::invalid_argument("debate_prompt: needs {solutions}, where the other agents' answers go");
    if (prompts.solution.find("{answer}") == std::string::npos)
        throw std::invalid_argument("solution_prompt: needs {answer}, where an agent's answer goes");
}

DebateEpisode::DebateEpisode(const DebateConfig &config, const Item &item, EpisodeId id)
    : config_(&config), item_(&item), id_(std::move(id)) {}

int64_t DebateConfig::first_tokens() const {
    int64_t n = 0;
    for (auto &a : agents) n += a.max_tokens;
    return n;
}

void DebateEpisode::start(Outbox &out) {
    const size_t n = config_->agents.size();
    answers_.resize(n * static_cast<size_t>(config_->rounds));
    answered_.assign(static_cast<size_t>(config_->rounds), 0);
    resident_.assign(n, 0);
    system_texts_.clear();
    system_of_.clear();
    for (size_t a = 0; a < n; ++a) {
        size_t same = 0;
        while (same < a && config_->agents[same].system_prompt != config_->agents[a].system_prompt) ++same;
        if (same < a) {
            system_of_.push_back(system_of_[same]);
            continue;
        }
        system_of_.push_back(static_cast<uint32_t>(system_texts_.size()));
        system_texts_.push_back(config_->agents[a].system_text(*item_));
    }
    task_ = item_->render(PARLEY_TEXT_TASK);
    if (config_->extraction.llm()) extractor_system_ = item_->render(PARLEY_TEXT_EXTRACTOR_SYSTEM);
    start_round(0, out);
}

std::string DebateEpisode::debate_message(int32_t round, size_t agent) const {
    std::string solutions;
    for (size_t other = 0; other < config_->agents.size(); ++other) {
        const Answer &prev = answers_[index(round - 1, other)];
        if (other == agent || !prev.ok) continue; // a failed answer has nothing to show
        solutions += fill(config_->prompts.solution, "answer", prev.response);
    }
    if (solutions.empty()) return config_->prompts.reflect;
    return fill(config_->prompts.debate, "solutions", solutions);
}

void DebateEpisode::start_round(int32_t round, Outbox &out) {
    const size_t n = config_->agents.size();
    // Build every agent's message first: each quotes the previous round's answers as they stand.
    if (round > 0)
        for (size_t a = 0; a < n; ++a) answers_[index(round, a)].user = debate_message(round, a);
    for (size_t a = 0; a < n; ++a) {
        const AgentSpec &spec = config_->agents[a];
        Answer &ans = answers_[index(round, a)];
        ans.seed = request_seed(id_.seed, index(round, a));
        GenerationRequest q;
        if (!system_prompt(a).empty()) q.messages.push_back({"system", system_prompt(a)});
        for (int32_t r = 0; r < round; ++r) { // its own earlier turns (a failed answer: an empty one)
            q.messages.push_back({"user", message(r, a)});
            q.messages.push_back({"assistant", answers_[index(r, a)].response});
        }
        q.messages.push_back({"user", message(round, a)});
        spec.apply(q);
        q.seed = ans.seed;
        q.conversation = id_.seed | 1;
        q.agent = static_cast<uint32_t>(a);
        ++outstanding_;
        out.submit(*spec.backend, q, static_cast<uint32_t>(index(round, a) << 1));
    }
    ++started_;
}

void DebateEpisode::on_result(uint32_t key, GenerationResult &&r, Outbox &out) {
    const size_t slot = key >> 1;
    const int32_t round = static_cast<int32_t>(slot / config_->agents.size());
    const size_t agent = slot % config_->agents.size();
    --outstanding_;
    if (config_->usage) config_->usage->add(key & 1 ? kExtractorRole : config_->agents[agent].role, r);
    if (key & 1) {
        extractor_tokens_ += r.completion_tokens;
        answers_[slot].extract_from(*item_, r);
        return;
    }
    on_answer(round, agent, std::move(r), out);
}

void DebateEpisode::on_answer(int32_t round, size_t agent, GenerationResult &&r, Outbox &out) {
    Answer &ans = answers_[index(round, agent)];
    ans.take(std::move(r));
    const int64_t resident = ans.prompt_tokens + ans.completion_tokens;
    out.grow(resident - resident_[agent]);
    resident_[agent] = resident;
    if (config_->extraction.llm() && ans.ok) {
        GenerationRequest q;
        ans.extractor_request(*item_, extractor_system_, config_->extraction, q);
        q.conversation = id_.seed | 1;
        q.agent = kExtractorAgent; // as Coral's extractor calls: the conversation's id, no agent prefix
        ++outstanding_;
        out.submit(*config_->extraction.backend, q, static_cast<uint32_t>((index(round, agent) << 1) | 1));
    } else {
        ans.extract_by_rule(*item_); // (a failed answer: no belief, no extractor call)
    }
    if (++answered_[static_cast<size_t>(round)] == static_cast<int32_t>(config_->agents.size()) && round + 1 < config_->rounds)
        start_round(round + 1, out);
}

VoteOutcome DebateEpisode::majority(int32_t round) const {
    std::vector<Ballot> ballots;
    for (size_t a = 0; a < config_->agents.size(); ++a) {
        const Answer &ans = answers_[index(round, a)];
        ballots.push_back({ans.belief, ans.valid});
    }
    return majority_vote(ballots);
}

int64_t DebateEpisode::completion_tokens() const {
    int64_t n = 0;
    for (auto &a : answers_) n += a.completion_tokens;
    return n;
}

} // namespace parley::core::eval
