// parley/coral_record.hpp — the one reader of Coral's conversation record format (header-only;
// needs nlohmann/json). A record is one JSON object per conversation:
//   {"conv_result": [turn, ...], "metadata": {...}, "metrics": {...}, "parley": {...}}
//   turn = {"role", "content", "info": {"status_ok", "usage": {"completion_tokens"},
//           "extracted_answer", "stop_conv", "siblings": [turn, ...],
//           "annotation": {<rater name>: {"score", "info": {...}}}}}
// The host (`parley metrics`, resume, core/pairs) and the filters plugin read records through it;
// it lives in the SDK because a plugin cannot link the host, and third-party filters read the
// same records.
//
// Fallback policy (one for every reader):
//   - Nothing throws and nothing is guessed: a field that is absent or of another JSON type reads
//     as absent (nullptr, std::nullopt, -1 for a tri-state bool, "" for a role).
//   - Numbers: a JSON number is itself, a bool is 0/1 (Python's arithmetic on True/False).
//   - Raters are found by the shape of their annotation, never by their class name: the extractor
//     is the annotation whose info holds "extracted_answer", the matcher the one whose
//     info.metrics holds "em". A Turn made with a record's RaterNames reads each turn's
//     annotation under those names (the names prefix the metric keys, so `parley metrics` reads
//     by name); a Turn made without looks for the shapes in that turn.
//   - What a caller substitutes for an absent value is the caller's; the derived rules below
//     name theirs. Where callers differ (each keeps its output of before this reader):
//       value absent             parley metrics          core/pairs               filters
//       matcher score            0                       0                        info.metrics.em
//       extractor score          no belief               (not read)               belief judged by its answer
//       usage.completion_tokens  0                       coral 1, fixed 0         not counted
//       raters found             by the record's names   by shape, per turn       by shape, per turn
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::coral_record {

using json = nlohmann::json;

// ---- field access ------------------------------------------------------------------------------

inline const json &null_json() {
    static const json kNull;
    return kNull;
}

// j[key] when j is an object holding key, else null.
inline const json &field(const json &j, const char *key) {
    if (!j.is_object()) return null_json();
    auto it = j.find(key);
    return it == j.end() ? null_json() : *it;
}

inline std::optional<double> number(const json &v) {
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    if (v.is_number()) return v.get<double>();
    return std::nullopt;
}

inline int8_t tri(const json &v) { return v.is_boolean() ? (v.get<bool>() ? 1 : 0) : -1; } // -1 absent

inline const std::string *string_of(const json &v) { return v.is_string() ? &v.get_ref<const std::string &>() : nullptr; }

// Coral's is_valid_answer on a normalised belief: not "Error…", not "not sure yet".
inline bool valid_answer(std::string_view a) { return a.rfind("Error", 0) != 0 && a != "not sure yet"; }

// ---- raters ------------------------------------------------------------------------------------

inline bool is_extractor(const json &annotation) {
    const json &info = field(annotation, "info");
    return info.is_object() && info.contains("extracted_answer");
}

inline bool is_matcher(const json &annotation) {
    const json &metrics = field(field(annotation, "info"), "metrics");
    return metrics.is_object() && metrics.contains("em");
}

struct RaterNames {
    std::string extractor; // "" when no turn has one
    std::string matcher;
};

// The first extractor and matcher names, in turn order (turn 0 has no annotation).
inline RaterNames rater_names(const json &record) {
    RaterNames names;
    for (auto &turn : field(record, "conv_result")) {
        const json &ann = field(field(turn, "info"), "annotation");
        if (!ann.is_object()) continue;
        for (auto it = ann.begin(); it != ann.end(); ++it) {
            if (names.extractor.empty() && is_extractor(it.value())) names.extractor = it.key();
            if (names.matcher.empty() && is_matcher(it.value())) names.matcher = it.key();
        }
        if (!names.extractor.empty() && !names.matcher.empty()) break;
    }
    return names;
}

// One rater's annotation of a turn ({"score", "info"}); empty when the turn has none.
class Annotation {
  public:
    Annotation() = default;
    explicit Annotation(const json *node) : node_(node) {}
    explicit operator bool() const { return node_ != nullptr; }
    const json *node() const { return node_; }
    const json &info() const { return node_ ? field(*node_, "info") : null_json(); }
    std::optional<double> score() const { return node_ ? number(field(*node_, "score")) : std::nullopt; }
    int8_t status_ok() const { return tri(field(info(), "status_ok")); }
    const std::string *extracted_answer() const { return string_of(field(info(), "extracted_answer")); }
    bool agreement() const { // the writer's decision (info.agreement is true)
        const json &a = field(info(), "agreement");
        return a.is_boolean() && a.get<bool>();
    }
    std::optional<double> em() const { return number(field(field(info(), "metrics"), "em")); }

  private:
    const json *node_ = nullptr;
};

// ---- turns -------------------------------------------------------------------------------------

class Turn {
  public:
    // Raters by name when `names` is given (see the policy above), else by shape.
    explicit Turn(const json &node, const RaterNames *names = nullptr) : node_(&node), names_(names) {}
    const json &node() const { return *node_; }
    const json &info() const { return field(*node_, "info"); }
    std::string_view role() const {
        const std::string *r = string_of(field(*node_, "role"));
        return r ? std::string_view(*r) : std::string_view();
    }
    const std::string *content() const { return string_of(field(*node_, "content")); }
    int8_t status_ok() const { return tri(field(info(), "status_ok")); }
    std::optional<double> completion_tokens() const { return number(field(field(info(), "usage"), "completion_tokens")); }
    // The turn's own generated tokens: a tree-sampled candidate's info.usage is its whole n = k
    // request's (as Coral records it) and its own count is in info.parley (null: unknown, then
    // nothing); otherwise usage's.
    std::optional<double> own_completion_tokens() const {
        const json &parley = field(info(), "parley");
        if (parley.is_object() && parley.contains("completion_tokens")) return number(parley["completion_tokens"]);
        return completion_tokens();
    }
    // info.parley.completion_tokens is null: the server gave no per-candidate count (n > 1).
    bool own_completion_tokens_unknown() const {
        const json &parley = field(info(), "parley");
        return parley.is_object() && parley.contains("completion_tokens") && parley["completion_tokens"].is_null();
    }
    const std::string *extracted_answer() const { return string_of(field(info(), "extracted_answer")); } // the turn's copy
    std::optional<bool> stop_conv() const {
        const json &s = field(info(), "stop_conv");
        return s.is_boolean() ? std::optional<bool>(s.get<bool>()) : std::nullopt;
    }
    // The other candidates of a tree-sampled turn: info.siblings, else a top-level "siblings".
    const json *siblings() const {
        const json *s = &field(info(), "siblings");
        if (s->is_null()) s = &field(*node_, "siblings");
        return s->is_array() ? s : nullptr;
    }
    Annotation extractor() const { return rater(names_ ? &names_->extractor : nullptr, is_extractor); }
    Annotation matcher() const { return rater(names_ ? &names_->matcher : nullptr, is_matcher); }

    // The turn's belief as Coral's stop_conv sees it: the extractor's answer when it is valid and
    // its score is non-zero; an absent score counts as zero (None).
    const std::string *belief() const {
        Annotation e = extractor();
        const std::string *a = e.extracted_answer();
        return a && e.score().value_or(0.0) != 0.0 && valid_answer(*a) ? a : nullptr;
    }
    // The matcher's score (Coral's get_turn_correctness); an absent one counts as zero.
    double correctness() const { return matcher().score().value_or(0.0); }

  private:
    Annotation rater(const std::string *name, bool (*shape)(const json &)) const {
        const json &ann = field(info(), "annotation");
        if (name) {
            if (name->empty()) return Annotation();
            const json &a = field(ann, name->c_str());
            return a.is_null() ? Annotation() : Annotation(&a);
        }
        if (!ann.is_object()) return Annotation();
        for (auto it = ann.begin(); it != ann.end(); ++it)
            if (shape(it.value())) return Annotation(&*it);
        return Annotation();
    }
    const json *node_;
    const RaterNames *names_;
};

// ---- records -----------------------------------------------------------------------------------

inline const json &turns_of(const json &record) {
    const json &c = field(record, "conv_result");
    return c.is_array() ? c : null_json();
}

// metadata.<key> as a string ("" when absent): init_prompt, <role>_inst.
inline std::string metadata_string(const json &record, const char *key) {
    const std::string *s = string_of(field(field(record, "metadata"), key));
    return s ? *s : std::string();
}

// A per-record metric: metrics.<name>, else the first key (in key order) ending in "-<name>"
// (Coral prefixes rater metrics with the rater's name); nullptr when there is none.
inline const json *find_metric(const json &record, std::string_view name) {
    const json &m = field(record, "metrics");
    if (!m.is_object()) return nullptr;
    if (auto it = m.find(std::string(name)); it != m.end()) return &*it;
    const std::string suffix = std::string(1, '-').append(name); // not "-" + std::string: GCC 12 -Wrestrict (bug 105651)
    for (auto it = m.begin(); it != m.end(); ++it) {
        const std::string &k = it.key();
        if (k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) return &*it;
    }
    return nullptr;
}

} // namespace parley::coral_record
