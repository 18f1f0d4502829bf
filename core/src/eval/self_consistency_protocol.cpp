#include "self_consistency_protocol.hpp"

#include "common.hpp"

#include <algorithm>

namespace parley::core::eval {

SelfConsistencyEpisode::SelfConsistencyEpisode(const SelfConsistencyConfig &config, const Item &item, EpisodeId id, int32_t k,
                                               std::vector<Answer> taken)
    : config_(&config), item_(&item), id_(std::move(id)), k_(std::max(k, static_cast<int32_t>(taken.size()))), first_new_(taken.size()),
      samples_(std::move(taken)) {}

void SelfConsistencyEpisode::start(Outbox &out) {
    started_ = true;
    std::string system = config_->sampler.system_text(*item_);
    if (!system.empty()) prompt_.push_back({"system", std::move(system)});
    prompt_.push_back({"user", item_->render(PARLEY_TEXT_TASK)});
    if (config_->extraction.llm()) extractor_system_ = item_->render(PARLEY_TEXT_EXTRACTOR_SYSTEM);
    samples_.resize(static_cast<size_t>(std::max(k_, 0)));
    GenerationRequest q;
    for (auto &m : prompt_) q.messages.push_back({m.role, m.content});
    config_->sampler.apply(q);
    q.conversation = id_.seed | 1;
    for (size_t j = first_new_; j < samples_.size(); ++j) {
        samples_[j].seed = request_seed(id_.seed, j);
        q.seed = samples_[j].seed;
        ++outstanding_;
        out.submit(*config_->sampler.backend, q, static_cast<uint32_t>(j << 1));
    }
}

void SelfConsistencyEpisode::on_result(uint32_t key, GenerationResult &&r, Outbox &out) {
    Answer &s = samples_[key >> 1];
    --outstanding_;
    if (config_->usage) config_->usage->add(key & 1 ? kExtractorRole : config_->sampler.role, r);
    if (key & 1) {
        extractor_tokens_ += r.completion_tokens;
        s.extract_from(*item_, r);
        return;
    }
    s.take(std::move(r));
    out.grow(s.prompt_tokens + s.completion_tokens);
    if (config_->extraction.llm() && s.ok) {
        GenerationRequest q;
        s.extractor_request(*item_, extractor_system_, config_->extraction, q);
        q.conversation = id_.seed | 1;
        q.agent = kExtractorAgent;
        ++outstanding_;
        out.submit(*config_->extraction.backend, q, key | 1);
    } else {
        s.extract_by_rule(*item_);
    }
}

VoteOutcome SelfConsistencyEpisode::majority() const {
    std::vector<Ballot> ballots;
    for (auto &s : samples_) ballots.push_back({s.belief, s.valid});
    return majority_vote(ballots);
}

int64_t SelfConsistencyEpisode::completion_tokens() const {
    int64_t n = 0;
    for (auto &s : samples_) n += s.completion_tokens;
    return n;
}

} // namespace parley::core::eval
