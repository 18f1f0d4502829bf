#include <parley/core/coral_metrics.hpp>
#include <parley/core/json_writer.hpp>

#include <climits>
#include <cmath>
#include <istream>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace parley::core {

using json = nlohmann::json;

namespace {

namespace rec = coral_record;

double as_number(const json &v) { return rec::number(v).value_or(0.0); }

// Python's `a == b` for the values social metrics compare: strings, None and the float 0.5.
struct Answer {
    enum Kind { None, Text, Number } kind = None;
    std::string_view text;
    bool operator==(const Answer &o) const { return kind == o.kind && (kind != Text || text == o.text); }
    bool operator!=(const Answer &o) const { return !(*this == o); }
};

// Metric key order (fixed; the keys themselves depend on the rater names).
enum Key {
    kConvErr, kTotalTurns, kTLen, kSLen, kConvLen,
    kERated, kEErr, kAgreement, kAgreementCorrect, kValid,
    kPersuade, kAssert, kCorrectPersuade, kIncorrectPersuade, kUnsurePersuade,
    kCorrectAssert, kIncorrectAssert, kUnsureAssert, kPersuasionQuality,
    kMRated, kMErr, kTurnsToSuccess, kFinalSuccess, kKeyCount
};

const std::vector<std::string> *keys_for(const RaterNames &n) {
    static std::mutex mu;
    static std::map<std::pair<std::string, std::string>, std::unique_ptr<std::vector<std::string>>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto &slot = cache[{n.extractor, n.matcher}];
    if (!slot) {
        const std::string e = n.extractor + "-", m = n.matcher + "-";
        slot = std::make_unique<std::vector<std::string>>(std::vector<std::string>{
            "conv_err", "total_turns", "t_len", "s_len", "conv_len",
            e + "rated_turns", e + "rater_err_rate", e + "agreement", e + "agreement_correctness", e + "valid_answer_rate",
            e + "persuade_rate", e + "assert_rate", e + "correct_persuade_rate", e + "incorrect_persuade_rate",
            e + "unsure_persuade_rate", e + "correct_assert_rate", e + "incorrect_assert_rate", e + "unsure_assert_rate",
            e + "persuasion_quality",
            m + "rated_turns", m + "rater_err_rate", m + "n_turns_to_success", m + "final_success_rate"});
    }
    return slot.get();
}

} // namespace

AgreementProfile parse_profile(const std::string &name) {
    if (name == "coral") return AgreementProfile::Coral;
    if (name == "matrix") return AgreementProfile::Matrix;
    throw std::invalid_argument("profile '" + name + "' is neither \"coral\" nor \"matrix\"");
}

std::vector<TurnFacts> facts_of(const json &record, const RaterNames &names) {
    std::vector<TurnFacts> out;
    const json &conv = rec::turns_of(record);
    out.reserve(conv.size());
    for (auto &node : conv) {
        const rec::Turn turn(node, &names);
        TurnFacts f;
        f.role = turn.role();
        f.status_ok = turn.status_ok();
        // The turn's own count (a tree candidate's, not its request's); -1: unknown.
        if (const auto n = turn.own_completion_tokens()) f.completion_tokens = *n;
        else f.completion_tokens = turn.own_completion_tokens_unknown() ? -1.0 : 0.0;
        if (const std::string *a = turn.extracted_answer()) f.has_answer = true, f.answer = *a;
        if (const rec::Annotation e = turn.extractor()) {
            f.ext_annotated = true;
            f.ext_score = e.score().value_or(0.0);
            f.ext_status_ok = e.status_ok();
            if (const std::string *a = e.extracted_answer()) f.ext_has_answer = true, f.ext_answer = *a;
        }
        if (const rec::Annotation m = turn.matcher()) {
            f.m_annotated = true;
            f.m_score = m.score().value_or(0.0);
            f.m_status_ok = m.status_ok();
        }
        out.push_back(f);
    }
    return out;
}

int agreement_turn(const std::vector<TurnFacts> &turns, AgreementProfile profile) {
    auto role = [&](size_t k) { return turns[k].role; };
    // A turn's belief as stop_conv sees it: none without an annotation (turn 0), with a zero
    // score or an invalid answer.
    auto belief = [&](size_t k) -> const std::string_view * {
        const TurnFacts &t = turns[k];
        return t.ext_annotated && t.ext_score != 0.0 && t.ext_has_answer && rec::valid_answer(t.ext_answer) ? &t.ext_answer : nullptr;
    };
    for (size_t last = 1; last < turns.size(); ++last)
        if (agree_after(last, role, belief, profile)) return static_cast<int>(last);
    return -1;
}

Metrics compute_metrics(const std::vector<TurnFacts> &conv, const RaterNames &names, int max_turns, AgreementProfile profile) {
    Metrics m;
    m.keys = keys_for(names);
    m.values.assign(kKeyCount, {Metrics::Float, -1.0}); // -1 kind marker below: absent
    std::vector<bool> present(kKeyCount, false);
    auto set = [&](Key k, Metrics::Kind kind, double v) {
        m.values[k] = {kind, v};
        present[k] = true;
    };
    const size_t n = conv.size();
    if (n == 0) {
        m.values.clear();
        return m;
    }
    set(kConvErr, Metrics::Bool, conv[n - 1].status_ok == 1 ? 0.0 : 1.0);
    set(kTotalTurns, Metrics::Int, profile == AgreementProfile::Coral ? static_cast<double>(n) : static_cast<double>(n) - 1);
    double t_sum = 0, s_sum = 0;
    int t_n = 0, s_n = 0;
    bool t_unknown = false, s_unknown = false; // a count a server did not give: the length is unknown, not 0
    for (size_t i = 1; i < n; ++i) {
        if (conv[i].status_ok != 1) continue;
        const double tokens = conv[i].completion_tokens;
        if (conv[i].role == "teacher") t_sum += tokens, ++t_n, t_unknown |= tokens < 0;
        else if (conv[i].role == "student") s_sum += tokens, ++s_n, s_unknown |= tokens < 0;
    }
    auto length = [&](Key k, bool unknown, double v) { unknown ? set(k, Metrics::Null, 0.0) : set(k, Metrics::Float, v); };
    length(kTLen, t_unknown, t_n ? t_sum / t_n : 0.0);
    length(kSLen, s_unknown, s_n ? s_sum / s_n : 0.0);
    length(kConvLen, t_unknown || s_unknown, t_sum + s_sum);

    if (!names.extractor.empty()) {
        int rated = 0, errors = 0;
        double valid_sum = 0;
        for (auto &t : conv)
            if (t.ext_annotated) {
                ++rated;
                errors += t.ext_status_ok == 0;
                valid_sum += t.ext_score;
            }
        set(kERated, Metrics::Int, rated);
        set(kEErr, Metrics::Float, rated ? static_cast<double>(errors) / rated : 0.0);
        // Agreement is recomputed from the beliefs under `profile` (a record written under one
        // profile can be re-scored under the other), not read from info.agreement.
        const int agreed = agreement_turn(conv, profile);
        set(kAgreement, Metrics::Bool, agreed >= 0);
        set(kAgreementCorrect, Metrics::Bool, agreed >= 0 && conv[agreed].m_annotated && conv[agreed].m_score == 1.0);
        set(kValid, Metrics::Float, rated ? valid_sum / rated : 0.0);

        // Social behaviour (eval_utils.social_behavior_metrics, not_sure_score = 0.5).
        std::vector<Answer> ans(n);
        std::vector<double> sc(n, 0.0);
        ans[0] = {Answer::Text, "not sure yet"};
        sc[0] = 0.5;
        for (size_t i = 1; i < n; ++i) {
            if (conv[i].has_answer) ans[i] = {Answer::Text, conv[i].answer};
            if (conv[i].has_answer && conv[i].answer == "not sure yet") sc[i] = 0.5;
            else if (!conv[i].has_answer) sc[i] = 0.0;
            else sc[i] = conv[i].m_annotated ? conv[i].m_score : 0.0;
        }
        std::vector<double> persuade, assertive, quality;
        const size_t last = n - 1;
        const Answer half{Answer::Number, {}}; // the float 0.5: turn 1 can never be assertive
        for (size_t i = 1; i < n; ++i) {
            const Answer &self_prev = i > 1 ? ans[i - 2] : half;
            const Answer &partner_prev = ans[i - 1];
            const Answer &partner_next = i < last ? ans[i + 1] : ans[i - 1];
            const double partner_next_sc = i < last ? sc[i + 1] : sc[i - 1];
            if (partner_prev != self_prev && ans[i] == self_prev) assertive.push_back(sc[i]);
            if (partner_prev != partner_next && ans[i] == partner_next) {
                persuade.push_back(sc[i]);
                quality.push_back(partner_next_sc - sc[i - 1]);
            }
        }
        const double turns = static_cast<double>(n - 1);
        auto frac = [](const std::vector<double> &v, double target) {
            if (v.empty()) return 0.0;
            size_t k = 0;
            for (double x : v) k += x == target;
            return static_cast<double>(k) / v.size();
        };
        set(kPersuade, Metrics::Float, turns > 0 ? persuade.size() / turns : 0.0);
        set(kAssert, Metrics::Float, turns > 0 ? assertive.size() / turns : 0.0);
        set(kCorrectPersuade, Metrics::Float, frac(persuade, 1.0));
        set(kIncorrectPersuade, Metrics::Float, frac(persuade, 0.0));
        set(kUnsurePersuade, Metrics::Float, frac(persuade, 0.5));
        set(kCorrectAssert, Metrics::Float, frac(assertive, 1.0));
        set(kIncorrectAssert, Metrics::Float, frac(assertive, 0.0));
        set(kUnsureAssert, Metrics::Float, frac(assertive, 0.5));
        double q = 0;
        for (double x : quality) q += x;
        set(kPersuasionQuality, Metrics::Float, quality.empty() ? 0.0 : q / quality.size());
    }
    if (!names.matcher.empty()) {
        int rated = 0, errors = 0, first_success = -1;
        for (size_t i = 0; i < n; ++i) {
            if (!conv[i].m_annotated) continue;
            ++rated;
            errors += conv[i].m_status_ok == 0;
            if (first_success < 0 && conv[i].m_score == 1.0) first_success = static_cast<int>(i);
        }
        set(kMRated, Metrics::Int, rated);
        set(kMErr, Metrics::Float, rated ? static_cast<double>(errors) / rated : 0.0);
        set(kTurnsToSuccess, Metrics::Int, first_success >= 0 ? first_success : max_turns);
        set(kFinalSuccess, Metrics::Float, first_success >= 0 ? 1.0 : 0.0);
    }
    // Drop what does not apply (no extractor or no matcher in the record).
    Metrics out;
    static thread_local std::map<std::pair<const std::vector<std::string> *, std::vector<bool>>, std::unique_ptr<std::vector<std::string>>> subsets;
    if (std::find(present.begin(), present.end(), false) == present.end()) return m;
    auto &sub = subsets[{m.keys, present}];
    if (!sub) {
        sub = std::make_unique<std::vector<std::string>>();
        for (size_t k = 0; k < kKeyCount; ++k)
            if (present[k]) sub->push_back((*m.keys)[k]);
    }
    out.keys = sub.get();
    for (size_t k = 0; k < kKeyCount; ++k)
        if (present[k]) out.values.push_back(m.values[k]);
    return out;
}

json Metrics::to_json() const {
    json j = json::object();
    if (!keys) return j;
    for (size_t i = 0; i < values.size(); ++i) {
        const auto &[kind, v] = values[i];
        if (kind == Bool) j[(*keys)[i]] = v != 0.0;
        else if (kind == Int) j[(*keys)[i]] = static_cast<int64_t>(v);
        else if (kind == Null) j[(*keys)[i]] = nullptr;
        else j[(*keys)[i]] = v;
    }
    return j;
}

void Metrics::append_json(std::string &out) const {
    JsonWriter w(out);
    w.begin_object();
    for (size_t i = 0; keys && i < values.size(); ++i) {
        const auto &[kind, v] = values[i];
        w.key((*keys)[i]);
        if (kind == Bool) w.value(v != 0.0);
        else if (kind == Int) w.value(static_cast<int64_t>(v));
        else if (kind == Null) w.null();
        else w.value(v);
    }
    w.end_object();
}

json conversation_metrics(const json &record, int max_turns, AgreementProfile profile) {
    RaterNames names = find_rater_names(record);
    return compute_metrics(facts_of(record, names), names, max_turns, profile).to_json();
}

void MetricsAccumulator::add_value(const std::string &key, double v) {
    Sum &s = sums_[key];
    s.sum += v;
    s.sumsq += v * v;
    ++s.n;
    if (keep_values_) s.values.push_back(v);
}

void MetricsAccumulator::add(const json &metrics) {
    ++n_;
    for (auto it = metrics.begin(); it != metrics.end(); ++it)
        if (it.value().is_number() || it.value().is_boolean()) add_value(it.key(), as_number(it.value()));
        else if (it.value().is_null()) sums_[it.key()]; // unknown: the key is known, its value not counted
}

void MetricsAccumulator::add(const Metrics &metrics) {
    if (!metrics.keys) return;
    ++n_;
    auto &slots = slots_[metrics.keys];
    if (slots.empty())
        for (auto &k : *metrics.keys) slots.push_back(&sums_[k]); // std::map nodes are stable
    for (size_t i = 0; i < metrics.values.size(); ++i) {
        if (metrics.values[i].first == Metrics::Null) continue;
        Sum &s = *slots[i];
        double v = metrics.values[i].second;
        s.sum += v;
        s.sumsq += v * v;
        ++s.n;
        if (keep_values_) s.values.push_back(v);
    }
}

json MetricsAccumulator::means() const {
    json out = json::object();
    for (auto &[k, s] : sums_) out[k] = s.n ? json(s.sum / s.n) : json(nullptr); // null: no conversation knew it
    return out;
}

json MetricsAccumulator::stderrs() const {
    json out = json::object();
    for (auto &[k, s] : sums_) {
        if (s.n < 2) {
            out[k] = s.n ? json(0.0) : json(nullptr);
            continue;
        }
        double mean = s.sum / s.n;
        double var = std::max(0.0, (s.sumsq - s.n * mean * mean) / (s.n - 1));
        out[k] = std::sqrt(var / s.n);
    }
    return out;
}

double MetricsAccumulator::mean(const std::string &key) const {
    auto it = sums_.find(key);
    return it == sums_.end() || it->second.n == 0 ? 0.0 : it->second.sum / it->second.n;
}

const std::vector<double> &MetricsAccumulator::values(const std::string &key) const {
    static const std::vector<double> none;
    auto it = sums_.find(key);
    return it == sums_.end() ? none : it->second.values;
}

} // namespace parley::core

namespace parley::core {

size_t add_records(std::istream &in, const std::string &file, std::optional<int> max_turns, AgreementProfile profile,
                   MetricsAccumulator &acc) {
    std::string line;
    size_t line_no = 0, n = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json record;
        try {
            record = json::parse(line);
        } catch (const json::exception &e) {
            throw std::runtime_error(file + ":" + std::to_string(line_no) + ": not JSON (" + e.what() + ")");
        }
        if (!record.contains("conv_result") || !record["conv_result"].is_array())
            throw std::runtime_error(file + ":" + std::to_string(line_no) + ": field 'conv_result' is missing (not a Coral record)");
        int turns = 20;
        if (max_turns) {
            turns = *max_turns;
        } else if (record.contains("parley") && record["parley"].contains("max_turns")) {
            const json &m = record["parley"]["max_turns"];
            if (!m.is_number_integer() || (m.is_number_unsigned() ? m.get<uint64_t>() > uint64_t(INT_MAX) : m.get<int64_t>() < 0))
                throw std::runtime_error(file + ":" + std::to_string(line_no) + ": field 'parley.max_turns' is not a whole number from 0 to " +
                                         std::to_string(INT_MAX) + " (" + m.dump().substr(0, 40) + ")");
            turns = m.get<int>();
        }
        acc.add(conversation_metrics(record, turns, profile));
        ++n;
    }
    return n;
}

} // namespace parley::core
