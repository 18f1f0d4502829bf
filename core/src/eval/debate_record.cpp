#include "debate_record.hpp"

#include <fmt/format.h>

namespace parley::core::eval {

using json = nlohmann::json;

json debate_record(const DebateEpisode &e, bool texts) {
    const DebateConfig &c = e.config();
    const EpisodeId &id = e.id();
    json agents = json::array();
    for (size_t a = 0; a < c.agents.size(); ++a) // each agent's system prompt once; its other messages are in its answers
        agents.push_back({{"agent", a}, {"backend", c.agents[a].backend_node}, {"system", texts ? e.system_prompt(a) : ""}});
    json rounds = json::array();
    for (int32_t r = 0; r < c.rounds; ++r) {
        json answers = json::array();
        for (size_t a = 0; a < c.agents.size(); ++a) {
            answers.push_back(answer_json(e.answer(r, a), texts));
            if (texts) answers.back()["user"] = e.message(r, a);
        }
        const VoteOutcome v = e.majority(r);
        const double score = v.valid ? e.answer(r, static_cast<size_t>(v.winner)).score : 0.0;
        rounds.push_back({{"round", r}, {"answers", std::move(answers)}, {"majority", vote_json(v, score)}});
    }
    json record = {{"domain", id.domain}, {"id", id.id}, {"doc_id", id.index}, {"trial", id.trial}, {"seed", id.seed},
                   {"gold", id.gold}, {"agents", std::move(agents)}, {"rounds", std::move(rounds)}};
    record["final"] = record["rounds"].back()["majority"];
    record["tokens"] = {{"completion", e.completion_tokens()}, {"extractor", e.extractor_tokens()}};
    return record;
}

std::vector<double> &DebateTally::at(const std::string &metric) {
    auto [it, added] = where_.try_emplace(metric, values_.size());
    if (added) values_.push_back({metric, {}});
    return values_[it->second].second;
}

void DebateTally::add(const json &record) {
    ++episodes_;
    const json &rounds = record.at("rounds");
    const json &final_vote = rounds.back().at("majority");
    at("final_success_rate").push_back(final_vote.at("correct").get<bool>());
    at("valid_answer_rate").push_back(final_vote.at("valid").get<bool>());
    at("consensus_rate").push_back(final_vote.at("consensus").get<bool>());
    at("tokens_per_item").push_back(record.at("tokens").at("completion").get<double>());
    at("extractor_tokens_per_item").push_back(record.at("tokens").at("extractor").get<double>());
    for (size_t r = 0; r < rounds.size(); ++r) {
        const json &vote = rounds[r].at("majority");
        at(fmt::format("accuracy_round{}", r)).push_back(vote.at("correct").get<bool>());
        at(fmt::format("consensus_round{}", r)).push_back(vote.at("consensus").get<bool>());
    }
    // Answer changes between consecutive rounds, per item (counts of agents, not rates).
    for (size_t r = 1; r < rounds.size(); ++r) {
        const json &now = rounds[r].at("answers"), &before = rounds[r - 1].at("answers");
        double up = 0, down = 0;
        for (size_t a = 0; a < now.size(); ++a) {
            const bool was = before[a].at("correct").get<bool>(), is = now[a].at("correct").get<bool>();
            up += !was && is;
            down += was && !is;
        }
        at(fmt::format("wrong_to_right_round{}", r)).push_back(up);
        at(fmt::format("right_to_wrong_round{}", r)).push_back(down);
    }
    const json &last = rounds.back().at("answers");
    for (size_t a = 0; a < last.size(); ++a) at(fmt::format("agent{}_accuracy", a)).push_back(last[a].at("correct").get<bool>());
}

std::vector<std::pair<std::string, std::vector<double>>> DebateTally::metrics() const { return values_; }

} // namespace parley::core::eval
