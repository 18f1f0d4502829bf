#include "coral_protocol.hpp"

#include <parley/core/hash.hpp>

#include <fmt/format.h>

namespace parley::core::eval {

namespace {
const std::string kSystem = "system", kUser = "user", kAssistant = "assistant", kHi = "hi";
const std::string kErrorBelief = "Error: extraction network error"; // Coral's wording
} // namespace

CoralEpisode::CoralEpisode(CoralShared &shared, const std::string &domain_node, Domain &domain, size_t index, int trial,
                           const std::string &item_id, uint64_t conversation_id)
    : shared_(&shared), domain_node_(&domain_node), item_id_(&item_id), domain_(&domain), index_(index), trial_(trial),
      id_(conversation_id) {
    const CoralConfig &c = shared.config;
    seed_ = c.fixed_seed ? c.base_seed : trial_seed(static_cast<int64_t>(c.base_seed), domain_node, item_id, trial);
}

std::string CoralEpisode::where() const {
    return fmt::format("{} item {} trial {} turn {}", *domain_node_, *item_id_, trial_, turns_.size());
}

std::string CoralEpisode::system_text(const CoralRole &r) const {
    if (r.system_prompt == "collaborate") return domain_->render(index_, PARLEY_TEXT_SYSTEM_COLLABORATE);
    if (r.system_prompt == "cot") return domain_->render(index_, PARLEY_TEXT_SYSTEM_COT);
    if (r.system_prompt == "none") return {};
    return r.system_prompt;
}

void CoralEpisode::start(Outbox &out) {
    const CoralConfig &c = shared_->config;
    resident_ = c.roles[c.first_speaker].max_tokens; // the scheduler's first estimate (SchedulerOptions)
    for (size_t r = 0; r < c.roles.size(); ++r) system_[r] = shared_->strings.intern(system_text(c.roles[r]));
    turns_.reserve(static_cast<size_t>(std::min(c.max_turns, 20)) + 1);
    CoralTurn t0;
    t0.role = static_cast<uint8_t>(c.first_speaker == 0 ? 1 : 0); // the asker
    t0.content = domain_->render(index_, c.first_speaker == 0 ? PARLEY_TEXT_TASK : PARLEY_TEXT_TASK_TEACHER_FIRST);
    turns_.push_back(std::move(t0));
    next_role_ = c.first_speaker;
    speak(out);
}

void CoralEpisode::speak(Outbox &out) {
    const CoralConfig &c = shared_->config;
    const CoralRole &r = c.roles[next_role_];
    GenerationRequest &q = shared_->scratch;
    q.messages.clear();
    const std::string &sys = *system_[next_role_];
    if (!sys.empty()) q.messages.push_back({kSystem, sys});
    // Perspective flip: own turns are the assistant's, everyone else's the user's.
    for (size_t i = 0; i < turns_.size(); ++i) {
        const bool own = turns_[i].role == next_role_;
        if (i == 0 && own && c.profile == AgreementProfile::Matrix) q.messages.push_back({kUser, kHi}); // Matrix P2P's dummy turn
        const CoralTurn &t = turns_[i];
        const bool shown = !own && t.reasoning && !t.reasoning->shown.empty(); // the speaker's role shows its reasoning
        q.messages.push_back({own ? kAssistant : kUser, shown ? t.reasoning->shown : t.content});
    }
    q.temperature = r.temperature;
    q.top_p = c.top_p;
    q.top_k = c.top_k;
    q.min_p = c.min_p;
    q.seed = c.fixed_seed ? seed_ : request_seed(seed_, turns_.size());
    q.max_tokens = r.max_tokens;
    q.stop = c.stop;
    q.conversation = id_;
    q.agent = static_cast<uint32_t>(next_role_);
    q.n = c.beam; // tree sampling: k candidates share the prompt's prefix
    stage_ = Stage::Speaking;
    out.submit(*r.backend, q, 0);
}

void CoralEpisode::on_result(uint32_t key, GenerationResult &&r, Outbox &out) {
    if (stage_ == Stage::Speaking) return on_spoken(std::move(r), out);
    if (stage_ != Stage::Extracting || key >= candidates_.size()) return;
    shared_->usage.add(kExtractorRole, r);
    annotate(candidates_[key], &r);
    if (--pending_ == 0) decide(out);
}

// A turn's request answered: its candidates (k error candidates for a failed request, as Coral
// makes them), then their beliefs.
void CoralEpisode::on_spoken(GenerationResult &&res, Outbox &out) {
    const CoralConfig &c = shared_->config;
    candidates_.clear();
    shared_->usage.add(c.roles[next_role_].name, res);
    if (res.status == PARLEY_OK && !res.choices.empty()) {
        shared_->tokens += res.completion_tokens;
        for (auto &choice : res.choices) {
            CoralTurn &t = candidates_.emplace_back();
            t.role = static_cast<uint8_t>(next_role_);
            t.content = std::move(choice.text);
            t.prompt_tokens = static_cast<int32_t>(res.prompt_tokens);
            t.cached_tokens = static_cast<int32_t>(res.cached_tokens);
            t.completion_tokens = static_cast<int32_t>(res.choices.size() == 1 ? res.completion_tokens : choice.completion_tokens);
            t.request_completion_tokens = static_cast<int32_t>(res.completion_tokens);
            t.finish = static_cast<int8_t>(choice.finish_reason);
            t.reasoning_tokens = static_cast<int32_t>(res.choices.size() == 1 ? res.reasoning_tokens : (res.reasoning_tokens == 0 ? 0 : -1));
            if (!choice.reasoning.empty()) {
                t.reasoning = std::make_unique<TurnReasoning>();
                if (c.roles[next_role_].reasoning_to_partner) t.reasoning->shown = with_reasoning(choice.reasoning, t.content);
                t.reasoning->text = std::move(choice.reasoning);
            }
        }
    } else {
        const std::string error = res.error.empty() ? "request failed" : res.error;
        shared_->failures.note("request", error, where());
        for (int b = 0; b < c.beam; ++b) {
            CoralTurn &t = candidates_.emplace_back();
            t.role = static_cast<uint8_t>(next_role_);
            t.status_ok = false;
            t.content = error;
        }
    }
    if (!c.llm_extraction) {
        for (auto &cand : candidates_) annotate(cand, nullptr);
        return decide(out);
    }
    pending_ = static_cast<int>(candidates_.size());
    for (size_t k = 0; k < candidates_.size(); ++k) extract(k, out);
}

void CoralEpisode::extract(size_t k, Outbox &out) {
    CoralTurn &t = candidates_[k];
    t.extractor = std::make_unique<ExtractorIO>();
    const bool with_thinking = t.reasoning && shared_->config.roles[t.role].reasoning_to_extractor;
    t.extractor->prompt = domain_->render(index_, PARLEY_TEXT_EXTRACTOR_PROMPT,
                                          with_thinking ? with_reasoning(t.reasoning->text, t.content) : t.content);
    const std::string *sys = shared_->strings.intern(domain_->render(index_, PARLEY_TEXT_EXTRACTOR_SYSTEM));
    GenerationRequest eq;
    eq.messages = {{kSystem, *sys}, {kUser, t.extractor->prompt}};
    set_extractor_sampling(eq, shared_->config.extractor_max_tokens);
    // Keyed by conversation, as an agent of its own: a backend keeps the extractor's
    // instructions resident next to the conversation (and a router sends it to that replica).
    eq.conversation = id_;
    eq.agent = kExtractorAgent;
    stage_ = Stage::Extracting;
    out.submit(*shared_->config.extractor, eq, static_cast<uint32_t>(k));
}

// Sets a candidate's belief (from the extractor's reply, or by rule) and its matcher score.
void CoralEpisode::annotate(CoralTurn &t, const GenerationResult *x) {
    t.annotated = true;
    if (!x) {
        auto [belief, valid] = domain_->extract(index_, PARLEY_EXTRACT_RULE, t.content);
        t.belief = shared_->strings.intern(std::move(belief));
        t.valid = valid;
    } else if (x->status == PARLEY_OK && !x->choices.empty()) {
        t.extractor->response = x->choices[0].text;
        auto [belief, valid] = domain_->extract(index_, PARLEY_EXTRACT_LLM_OUTPUT, t.extractor->response);
        t.belief = shared_->strings.intern(std::move(belief));
        t.valid = valid;
    } else { // as extraction_evaluators.py: the error text as the response, score 0.0
        t.extractor->response = x->error.empty() ? "request failed" : x->error;
        shared_->failures.note("extractor request", t.extractor->response, where());
        t.belief = shared_->strings.intern(kErrorBelief);
        t.valid = false;
        t.extractor_ok = false;
    }
    t.score = static_cast<float>(domain_->score(index_, *t.belief));
}

// Would `last`, spoken after the turns so far, end the conversation? (agreement.hpp; a turn
// without a valid belief never does)
bool CoralEpisode::agrees(const CoralTurn &last) const {
    auto at = [&](size_t k) -> const CoralTurn & { return k < turns_.size() ? turns_[k] : last; };
    auto role = [&](size_t k) { return at(k).role; };
    auto belief = [&](size_t k) { return at(k).annotated && at(k).valid ? at(k).belief : nullptr; };
    return last.annotated && last.valid && agree_after(turns_.size(), role, belief, shared_->config.profile);
}

// Tree sampling's pick: with seed_mode "fixed" as Coral's rand_pick_one (random.randint on one
// Python stream per run, drawn in the order turns complete), else from the conversation's seed.
size_t CoralEpisode::pick_candidate() {
    const size_t k = candidates_.size();
    if (shared_->config.fixed_seed) return static_cast<size_t>(shared_->picks.randint(0, static_cast<int64_t>(k) - 1));
    return splitmix(seed_ ^ (0x7c3a9e1full * turns_.size())) % k;
}

// Every candidate of this turn is annotated: keep one (the only one without tree sampling, a
// seeded pick with it), file the rest as its siblings, and go on or stop.
void CoralEpisode::decide(Outbox &out) {
    const CoralConfig &c = shared_->config;
    shared_->turns += static_cast<int64_t>(candidates_.size());
    const bool tree = c.beam > 1;
    size_t pick = 0;
    if (tree) {
        // As Coral: stop_conv is asked of every candidate, failed ones too (their error text
        // was extracted), and marks the candidate's own annotation as agreeing.
        for (auto &cand : candidates_) cand.stop_conv = cand.agreement = agrees(cand);
        pick = pick_candidate();
    }
    CoralTurn chosen = std::move(candidates_[pick]);
    if (tree) {
        chosen.siblings = std::make_unique<std::vector<CoralTurn>>();
        for (size_t k = 0; k < candidates_.size(); ++k)
            if (k != pick) chosen.siblings->push_back(std::move(candidates_[k]));
    }
    candidates_.clear();
    const bool failed = !chosen.status_ok;
    // Single sampling stops at a failed turn without asking stop_conv; tree sampling goes on.
    const bool agree = tree ? chosen.stop_conv : !failed && agrees(chosen);
    chosen.agreement = agree;
    if (chosen.status_ok && chosen.prompt_tokens > 0) {
        const int64_t now = (int64_t{chosen.prompt_tokens} + std::max(chosen.completion_tokens, 0)) * static_cast<int64_t>(c.roles.size());
        out.grow(now - resident_);
        resident_ = now;
    }
    turns_.push_back(std::move(chosen));
    // A failed request ends a conversation (conv_err); in tree sampling Coral carries on.
    if ((failed && !tree) || agree || static_cast<int>(turns_.size()) - 1 >= c.max_turns) {
        stage_ = Stage::Done;
        return;
    }
    next_role_ = (next_role_ + 1) % c.roles.size();
    speak(out);
}

} // namespace parley::core::eval
