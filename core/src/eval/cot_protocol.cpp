#include "cot_protocol.hpp"

#include <fmt/format.h>

namespace parley::core::eval {

using json = nlohmann::json;

CotEpisode::CotEpisode(CotShared &shared, const std::string &domain_node, Domain &domain, size_t index, int trial, uint64_t seed)
    : shared_(&shared), domain_node_(&domain_node), domain_(&domain), index_(index), trial_(trial), seed_(seed),
      item_(domain.item(index)) {}

std::string CotEpisode::where() const { return fmt::format("{} item {} trial {}", *domain_node_, item_.id, trial_); }

void CotEpisode::start(Outbox &out) {
    const CotConfig &c = shared_->config;
    if (c.system_prompt) messages_.push_back({"system", domain_->render(index_, PARLEY_TEXT_SYSTEM_COT)});
    messages_.push_back({"user", domain_->render(index_, PARLEY_TEXT_TASK)});
    GenerationRequest q;
    for (auto &m : messages_) q.messages.push_back({m.role, m.content});
    q.temperature = c.temperature;
    q.top_p = c.top_p;
    q.top_k = c.top_k;
    q.min_p = c.min_p;
    q.seed = seed_;
    q.max_tokens = c.max_tokens;
    q.stop = c.stop;
    q.conversation = seed_ | 1; // its own cache line; a single turn has nothing to share
    stage_ = Stage::Answering;
    out.submit(*c.backend, q, 0);
}

void CotEpisode::on_result(uint32_t, GenerationResult &&r, Outbox &out) {
    const CotConfig &c = shared_->config;
    shared_->usage.add(stage_ == Stage::Extracting ? kExtractorRole : kAgentRole, r);
    if (stage_ == Stage::Extracting) return finish(&r);
    if (r.status != PARLEY_OK) shared_->failures.note("request", r.error, where());
    answer_ = std::move(r);
    // The text whose answer is extracted: the response; under "coral" a failed request's error
    // text too (the official loop keeps it as the turn's content and rates it).
    if (answer_.status != PARLEY_OK) response_ = c.coral ? answer_.error : std::string();
    else if (!answer_.choices.empty()) response_ = answer_.choices[0].text;
    if (!c.llm_extraction || (answer_.status != PARLEY_OK && !c.coral)) return finish(nullptr);
    extractor_system_ = domain_->render(index_, PARLEY_TEXT_EXTRACTOR_SYSTEM);
    extractor_prompt_ = domain_->render(index_, PARLEY_TEXT_EXTRACTOR_PROMPT, response_);
    GenerationRequest q;
    q.messages = {{"system", extractor_system_}, {"user", extractor_prompt_}};
    set_extractor_sampling(q, c.extractor_max_tokens);
    stage_ = Stage::Extracting;
    out.submit(*c.extractor, q, 0);
}

// The belief (from the extractor's reply, or by rule) and its score.
void CotEpisode::finish(const GenerationResult *x) {
    stage_ = Stage::Done;
    if (answer_.status != PARLEY_OK && !shared_->config.coral) return; // "fixed": no answer, score 0
    if (!x) {
        std::tie(belief_, valid_) = domain_->extract(index_, PARLEY_EXTRACT_RULE, response_);
    } else if (x->status == PARLEY_OK && !x->choices.empty()) {
        std::tie(belief_, valid_) = domain_->extract(index_, PARLEY_EXTRACT_LLM_OUTPUT, x->choices[0].text);
        extractor_response_ = x->choices[0].text;
    } else {
        belief_ = "Error: extraction network error"; // Coral's wording
        extractor_error_ = x->error;
        shared_->failures.note("extractor request", x->error, where());
    }
    score_ = domain_->score(index_, belief_);
}

json cot_sample_row(const CotEpisode &e) {
    const GenerationResult &a = e.answer();
    json row;
    if (e.extractor_response()) row["extractor_response"] = *e.extractor_response();
    if (e.extractor_error()) row["extractor_error"] = *e.extractor_error();
    row["doc_id"] = e.index();
    row["id"] = e.item().id;
    row["trial"] = e.trial();
    row["domain"] = e.domain_node();
    row["seed"] = e.seed();
    json prompt = json::array();
    for (auto &m : e.messages()) prompt.push_back({{"role", m.role}, {"content", m.content}});
    row["prompt"] = std::move(prompt);
    row["response"] = e.response();
    row["extracted"] = e.belief();
    row["valid"] = e.valid();
    row["gold"] = e.item().gold;
    row["score"] = e.score();
    row["correct"] = e.score() >= 1.0;
    row["finish_reason"] = a.choices.empty() ? "error" : finish_name(a.choices[0].finish_reason);
    row["prompt_tokens"] = a.prompt_tokens;
    row["cached_tokens"] = a.cached_tokens;
    row["completion_tokens"] = a.completion_tokens;
    row["total_s"] = a.total_s;
    if (a.reasoning_tokens != 0) row["reasoning_tokens"] = a.reasoning_tokens < 0 ? json(nullptr) : json(a.reasoning_tokens);
    if (!a.choices.empty() && !a.choices[0].reasoning.empty()) row["reasoning"] = a.choices[0].reasoning; // (the response is the answer alone)
    if (a.status != PARLEY_OK) row["error"] = a.error;
    return row;
}

} // namespace parley::core::eval
