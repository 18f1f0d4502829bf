#include "answer.hpp"

#include "common.hpp"

namespace parley::core::eval {

using json = nlohmann::json;

void Answer::take(GenerationResult &&r) {
    received = true;
    prompt_tokens = r.prompt_tokens;
    cached_tokens = r.cached_tokens;
    completion_tokens = r.completion_tokens;
    ok = r.status == PARLEY_OK && !r.choices.empty();
    if (ok) {
        response = std::move(r.choices[0].text);
        finish = r.choices[0].finish_reason;
    } else {
        error = r.error.empty() ? "request failed" : std::move(r.error);
        finish = PARLEY_FINISH_ERROR;
    }
}

void Answer::extract_by_rule(const Item &item) {
    extracted = true;
    if (!ok) return;
    std::tie(belief, valid) = item.extract(PARLEY_EXTRACT_RULE, response);
    score = valid ? item.score(belief) : 0.0;
}

void Answer::extract_from(const Item &item, const GenerationResult &r) {
    extracted = true;
    if (r.status == PARLEY_OK && !r.choices.empty()) {
        extractor_response = r.choices[0].text;
        std::tie(belief, valid) = item.extract(PARLEY_EXTRACT_LLM_OUTPUT, extractor_response);
        score = valid ? item.score(belief) : 0.0;
    } else {
        extractor_error = r.error.empty() ? "request failed" : r.error;
    }
}

void Answer::extractor_request(const Item &item, const std::string &system, const ExtractionSpec &x, GenerationRequest &q) {
    extractor_prompt = item.render(PARLEY_TEXT_EXTRACTOR_PROMPT, response);
    q.messages = {{"system", system}, {"user", extractor_prompt}};
    set_extractor_sampling(q, x.max_tokens);
}

json answer_json(const Answer &a, bool texts) {
    json j = {{"belief", a.belief}, {"valid", a.valid},
              {"score", a.score}, {"correct", a.valid && a.score >= 1.0}, {"finish_reason", finish_name(a.finish)},
              {"prompt_tokens", a.prompt_tokens}, {"cached_tokens", a.cached_tokens},
              {"completion_tokens", a.completion_tokens}, {"seed", a.seed}};
    if (!a.ok) j["error"] = a.error;
    if (!texts) return j;
    j["user"] = a.user;
    j["response"] = a.response;
    if (!a.extractor_prompt.empty()) {
        j["extractor"] = {{"prompt", a.extractor_prompt}, {"response", a.extractor_response}};
        if (!a.extractor_error.empty()) j["extractor"]["error"] = a.extractor_error;
    }
    return j;
}

} // namespace parley::core::eval

namespace parley::core::eval {

nlohmann::json vote_json(const VoteOutcome &v, double score) {
    return {{"belief", v.belief}, {"valid", v.valid}, {"votes", v.votes}, {"voters", v.voters}, {"winner", v.winner},
            {"consensus", v.unanimous}, {"score", score}, {"correct", v.valid && score >= 1.0}};
}

} // namespace parley::core::eval
