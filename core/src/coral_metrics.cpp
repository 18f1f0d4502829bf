#include <parley/core/coral_metrics.hpp>

#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>

namespace parley::core {

using json = nlohmann::json;

namespace {

const json kNull;

const json &get(const json &j, const char *key) {
    if (j.is_object()) {
        auto it = j.find(key);
        if (it != j.end()) return *it;
    }
    return kNull;
}

const json &annotation(const json &turn, const std::string &rater) {
    return get(get(get(turn, "info"), "annotation"), rater.c_str());
}

double as_number(const json &v) {
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    if (v.is_number()) return v.get<double>();
    return 0.0;
}

// Python's `a == b` for the values social metrics compare: strings, None and the float 0.5.
struct Answer {
    enum Kind { None, Text, Number } kind = None;
    std::string text;
    double number = 0;
    bool operator==(const Answer &o) const {
        if (kind != o.kind) return false;
        if (kind == Text) return text == o.text;
        if (kind == Number) return number == o.number;
        return true;
    }
    bool operator!=(const Answer &o) const { return !(*this == o); }
};

Answer answer_of(const json &v) {
    Answer a;
    if (v.is_string()) {
        a.kind = Answer::Text;
        a.text = v.get<std::string>();
    }
    return a;
}

} // namespace

AgreementProfile parse_profile(const std::string &name) {
    if (name == "coral") return AgreementProfile::Coral;
    if (name == "matrix") return AgreementProfile::Matrix;
    throw std::invalid_argument("profile '" + name + "' is neither \"coral\" nor \"matrix\"");
}

RaterNames find_rater_names(const json &record) {
    RaterNames names;
    for (auto &turn : get(record, "conv_result")) {
        const json &ann = get(get(turn, "info"), "annotation");
        if (!ann.is_object()) continue;
        for (auto it = ann.begin(); it != ann.end(); ++it) {
            const json &info = get(it.value(), "info");
            if (names.extractor.empty() && info.is_object() && info.contains("extracted_answer")) names.extractor = it.key();
            if (names.matcher.empty() && get(info, "metrics").is_object() && get(info, "metrics").contains("em"))
                names.matcher = it.key();
        }
        if (!names.extractor.empty() && !names.matcher.empty()) break;
    }
    return names;
}

bool is_valid_answer(const json &a) {
    if (!a.is_string()) return false;
    const std::string &s = a.get_ref<const std::string &>();
    return s.rfind("Error", 0) != 0 && s != "not sure yet";
}

bool beliefs_agree(const json &conv, size_t end, const std::string &extractor, AgreementProfile profile) {
    if (!conv.is_array() || end < 2 || end > conv.size()) return false;
    auto belief_of = [&](const json &turn) -> std::optional<std::string> {
        const json &ann = annotation(turn, extractor);
        if (ann.is_null()) return std::nullopt; // turn 0 has no annotation (KeyError -> None)
        if (as_number(get(ann, "score")) == 0.0) return std::nullopt;
        const json &a = get(get(ann, "info"), "extracted_answer");
        if (!is_valid_answer(a)) return std::nullopt;
        return a.get<std::string>();
    };
    if (profile == AgreementProfile::Coral) {
        // stop_conv walks back overwriting one belief per role; checked after every turn, it
        // amounts to: the last two turns (one per agent) hold equal valid beliefs.
        const json &last = conv[end - 1], &prev = conv[end - 2];
        if (get(last, "role") == get(prev, "role")) return false;
        auto a = belief_of(last), b = belief_of(prev);
        return a && b && *a == *b;
    }
    // Matrix: each role's latest valid belief.
    std::map<std::string, std::string> latest;
    std::set<std::string> roles;
    for (size_t k = end; k-- > 0;) {
        const json &turn = conv[k];
        std::string role = get(turn, "role").is_string() ? get(turn, "role").get<std::string>() : "";
        roles.insert(role);
        if (latest.count(role)) continue;
        if (auto b = belief_of(turn)) latest[role] = *b;
    }
    if (latest.size() < 2 || latest.size() < roles.size()) return false;
    const std::string &first = latest.begin()->second;
    for (auto &[role, b] : latest)
        if (b != first) return false;
    return true;
}

int agreement_turn(const json &conv, const std::string &extractor, AgreementProfile profile) {
    if (!conv.is_array()) return -1;
    for (size_t end = 2; end <= conv.size(); ++end)
        if (beliefs_agree(conv, end, extractor, profile)) return static_cast<int>(end - 1);
    return -1;
}

json conversation_metrics(const json &record, int max_turns, AgreementProfile profile) {
    const json &conv = get(record, "conv_result");
    const size_t n = conv.is_array() ? conv.size() : 0;
    RaterNames names = find_rater_names(record);
    json m = json::object();
    if (n == 0) return m;

    m["conv_err"] = !get(get(conv[n - 1], "info"), "status_ok").is_boolean() ? true
                                                                              : !get(get(conv[n - 1], "info"), "status_ok").get<bool>();
    m["total_turns"] = profile == AgreementProfile::Coral ? static_cast<int64_t>(n) : static_cast<int64_t>(n) - 1;
    double t_sum = 0, s_sum = 0;
    int t_n = 0, s_n = 0;
    for (size_t i = 1; i < n; ++i) {
        const json &info = get(conv[i], "info");
        if (!get(info, "status_ok").is_boolean() || !get(info, "status_ok").get<bool>()) continue;
        double tokens = as_number(get(get(info, "usage"), "completion_tokens"));
        if (get(conv[i], "role") == "teacher") t_sum += tokens, ++t_n;
        else if (get(conv[i], "role") == "student") s_sum += tokens, ++s_n;
    }
    m["t_len"] = t_n ? t_sum / t_n : 0.0;
    m["s_len"] = s_n ? s_sum / s_n : 0.0;
    m["conv_len"] = t_sum + s_sum;

    auto rater_metrics = [&](const std::string &rater) {
        int rated = 0, errors = 0;
        for (size_t i = 0; i < n; ++i) {
            const json &ann = annotation(conv[i], rater);
            if (ann.is_null()) continue;
            ++rated;
            const json &ok = get(get(ann, "info"), "status_ok");
            if (ok.is_boolean() && !ok.get<bool>()) ++errors;
        }
        m[rater + "-rated_turns"] = rated;
        m[rater + "-rater_err_rate"] = rated ? static_cast<double>(errors) / rated : 0.0;
    };

    if (!names.extractor.empty()) {
        const std::string &e = names.extractor;
        rater_metrics(e);
        // Agreement is recomputed from the stored beliefs under `profile` (so a record written
        // under one profile can be re-scored under the other), not read from info.agreement.
        const int agreed = agreement_turn(conv, e, profile);
        const bool agreement = agreed >= 0;
        const bool agreement_correct =
            agreement && !names.matcher.empty() && as_number(get(annotation(conv[agreed], names.matcher), "score")) == 1.0;
        double valid_sum = 0;
        int annotated = 0;
        for (size_t i = 0; i < n; ++i) {
            const json &ann = annotation(conv[i], e);
            if (ann.is_null()) continue;
            ++annotated;
            valid_sum += as_number(get(ann, "score"));
        }
        m[e + "-agreement"] = agreement;
        m[e + "-agreement_correctness"] = agreement_correct;
        m[e + "-valid_answer_rate"] = annotated ? valid_sum / annotated : 0.0;

        // Social behaviour (eval_utils.social_behavior_metrics, not_sure_score = 0.5).
        std::vector<Answer> ans(n);
        std::vector<double> sc(n, 0.0);
        ans[0] = answer_of(json("not sure yet"));
        sc[0] = 0.5;
        for (size_t i = 1; i < n; ++i) {
            const json &a = get(get(conv[i], "info"), "extracted_answer");
            ans[i] = answer_of(a);
            if (a.is_string() && a.get<std::string>() == "not sure yet") sc[i] = 0.5;
            else if (!a.is_string()) sc[i] = 0.0;
            else sc[i] = names.matcher.empty() ? 0.0 : as_number(get(annotation(conv[i], names.matcher), "score"));
        }
        std::vector<double> persuade_scores, assert_scores, qualities;
        const size_t last = n - 1;
        for (size_t i = 1; i < n; ++i) {
            Answer self_prev;
            if (i > 1) self_prev = ans[i - 2];
            else {
                self_prev.kind = Answer::Number; // a float 0.5: turn 1 can never be assertive
                self_prev.number = 0.5;
            }
            const Answer &partner_prev = ans[i - 1];
            const Answer &partner_next = i < last ? ans[i + 1] : ans[i - 1];
            double partner_next_sc = i < last ? sc[i + 1] : sc[i - 1];
            if (partner_prev != self_prev && ans[i] == self_prev) assert_scores.push_back(sc[i]);
            if (partner_prev != partner_next && ans[i] == partner_next) {
                persuade_scores.push_back(sc[i]);
                qualities.push_back(partner_next_sc - sc[i - 1]);
            }
        }
        const double turns = static_cast<double>(n - 1);
        auto frac = [](const std::vector<double> &v, double target) {
            if (v.empty()) return 0.0;
            size_t k = 0;
            for (double x : v) k += x == target;
            return static_cast<double>(k) / v.size();
        };
        m[e + "-persuade_rate"] = turns > 0 ? persuade_scores.size() / turns : 0.0;
        m[e + "-assert_rate"] = turns > 0 ? assert_scores.size() / turns : 0.0;
        m[e + "-correct_persuade_rate"] = frac(persuade_scores, 1.0);
        m[e + "-incorrect_persuade_rate"] = frac(persuade_scores, 0.0);
        m[e + "-unsure_persuade_rate"] = frac(persuade_scores, 0.5);
        m[e + "-correct_assert_rate"] = frac(assert_scores, 1.0);
        m[e + "-incorrect_assert_rate"] = frac(assert_scores, 0.0);
        m[e + "-unsure_assert_rate"] = frac(assert_scores, 0.5);
        double q = 0;
        for (double x : qualities) q += x;
        m[e + "-persuasion_quality"] = qualities.empty() ? 0.0 : q / qualities.size();
    }
    if (!names.matcher.empty()) {
        const std::string &mt = names.matcher;
        rater_metrics(mt);
        int first_success = -1;
        for (size_t i = 0; i < n && first_success < 0; ++i)
            if (!annotation(conv[i], mt).is_null() && as_number(get(annotation(conv[i], mt), "score")) == 1.0)
                first_success = static_cast<int>(i);
        m[mt + "-n_turns_to_success"] = first_success >= 0 ? first_success : max_turns;
        m[mt + "-final_success_rate"] = first_success >= 0 ? 1.0 : 0.0;
    }
    return m;
}

void MetricsAccumulator::add(const json &metrics) {
    ++n_;
    for (auto it = metrics.begin(); it != metrics.end(); ++it) {
        if (!it.value().is_number() && !it.value().is_boolean()) continue;
        double v = as_number(it.value());
        Sum &s = sums_[it.key()];
        s.sum += v;
        s.sumsq += v * v;
        ++s.n;
    }
}

json MetricsAccumulator::means() const {
    json out = json::object();
    for (auto &[k, s] : sums_) out[k] = s.n ? s.sum / s.n : 0.0;
    return out;
}

json MetricsAccumulator::stderrs() const {
    json out = json::object();
    for (auto &[k, s] : sums_) {
        if (s.n < 2) {
            out[k] = 0.0;
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

} // namespace parley::core
