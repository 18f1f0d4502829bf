#include "self_consistency_record.hpp"

namespace parley::core::eval {

using json = nlohmann::json;

json self_consistency_record(const SelfConsistencyEpisode &e, bool texts) {
    const EpisodeId &id = e.id();
    json prompt = json::array();
    if (texts)
        for (auto &m : e.prompt()) prompt.push_back({{"role", m.role}, {"content", m.content}});
    json samples = json::array();
    for (auto &s : e.samples()) {
        json j = answer_json(s, texts);
        j.erase("user"); // every sample answers `prompt`
        samples.push_back(std::move(j));
    }
    const VoteOutcome v = e.majority();
    const double score = v.valid ? e.samples()[static_cast<size_t>(v.winner)].score : 0.0;
    return {{"domain", id.domain}, {"id", id.id}, {"doc_id", id.index}, {"trial", id.trial}, {"seed", id.seed},
            {"gold", id.gold}, {"k", e.k()}, {"prompt", std::move(prompt)}, {"samples", std::move(samples)},
            {"majority", vote_json(v, score)},
            {"tokens", {{"completion", e.completion_tokens()}, {"extractor", e.extractor_tokens()}}}};
}

void SelfConsistencyTally::add(const json &record) {
    const json &vote = record.at("majority");
    final_.push_back(vote.at("correct").get<bool>());
    valid_.push_back(vote.at("valid").get<bool>());
    consensus_.push_back(vote.at("consensus").get<bool>());
    double correct = 0;
    const json &samples = record.at("samples");
    for (auto &s : samples) correct += s.at("correct").get<bool>();
    sample_.push_back(samples.empty() ? 0.0 : correct / static_cast<double>(samples.size()));
    tokens_.push_back(record.at("tokens").at("completion").get<double>());
    extractor_tokens_.push_back(record.at("tokens").at("extractor").get<double>());
    k_.push_back(record.at("k").get<double>());
}

std::vector<std::pair<std::string, std::vector<double>>> SelfConsistencyTally::metrics() const {
    return {{"final_success_rate", final_}, {"sample_accuracy", sample_},     {"valid_answer_rate", valid_},
            {"consensus_rate", consensus_}, {"tokens_per_item", tokens_},     {"extractor_tokens_per_item", extractor_tokens_},
            {"k", k_}};
}

} // namespace parley::core::eval
