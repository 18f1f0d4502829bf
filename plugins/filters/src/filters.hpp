// plugins/filters/src/filters.hpp — Parley's data filters (Coral §4.2–§4.3) as parley::Filter
// classes: filters/question, filters/belief, filters/dedupe, filters/length.
//
// Every filter reads one JSON object per push: a Coral conversation record ({"conv_result", ...})
// or a training row (Coral pair/SFT, TRL pair/messages). What it keeps is written out unchanged
// (the input bytes, trimmed), in input order. Rows it cannot interpret are dropped with reason
// "unreadable" and logged by ordinal (never by content: GPQA text is sensitive).
#pragma once

#include <parley/coral_record.hpp>
#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace parley::filters {

using json = nlohmann::json;

// ---- rows -------------------------------------------------------------------------------------

enum class RowKind {
    Unreadable, // not JSON, not an object, or no known shape
    Record,     // Coral conversation record: {"conv_result": [...], ...}
    CoralPair,  // {"src", "tgt_chosen", "tgt_rejected", "pairwise": true}
    CoralSft,   // {"src", "tgt"}
    TrlPair,    // {"prompt", "chosen", "rejected"}
    TrlSft      // {"messages": [...]}
};
const char *kind_name(RowKind k);
RowKind classify(const json &row);

struct Row {
    RowKind kind = RowKind::Unreadable;
    json value;
    std::string why; // set when unreadable
};
Row parse_row(std::string_view text);

// ---- helpers over records (exposed for tests) --------------------------------------------------
// Records are read through parley/coral_record.hpp; these add the filters' own fallbacks.

inline std::optional<double> as_number(const json &v) { return coral_record::number(v); } // bool -> 0/1
const json *find_path(const json &obj, std::string_view path); // "a.b.c"; exact key first
// The extractor annotation of a turn (the one with info.extracted_answer), found by shape.
const json *extractor_annotation(const json &turn);
// The matcher annotation (the one with info.metrics.em), found by shape.
const json *matcher_annotation(const json &turn);
// The matcher's score (score, else info.metrics.em); nullopt when the turn has no matcher.
std::optional<double> matcher_score(const json &turn);
// Coral's get_turn_correctness: 1 when the matcher score is 1 (gold), else 0.
double turn_correctness(const json &turn);
// Coral's is_valid_answer over the turn's belief (extractor score non-zero, extracted_answer a
// string, not "not sure yet", not starting with "Error").
bool belief_valid(const json &turn);
// Siblings of a tree-sampled turn (info.siblings, else siblings); nullptr if none. The filters
// read annotations per turn by shape (no rater names).
const json *siblings(const json &turn);
// A per-record metric: the key equal to `name` or ending in "-<name>" in record["metrics"]
// (the first such key in key order). Falls back to computing agreement_correctness and
// final_success_rate from the turns when the metric is absent.
std::optional<double> record_metric(const json &record, std::string_view name);
// Question key: parley.domain + parley.id, else metadata.init_prompt, else turn 0's content.
std::optional<std::string> question_key(const json &record);
size_t utf8_chars(std::string_view s); // code points (Python's len)
std::string normalize_ws(std::string_view s);

// ---- report tally ------------------------------------------------------------------------------

class Tally {
  public:
    void keep() { ++kept_; }
    void drop(std::string_view reason);
    std::string json() const; // {"kept": n, "dropped": n, "reasons": {...}} (reasons sorted)
    size_t kept() const { return kept_; }
    size_t dropped() const { return dropped_; }
    const std::map<std::string, size_t, std::less<>> &reasons() const { return reasons_; }

  private:
    size_t kept_ = 0, dropped_ = 0;
    std::map<std::string, size_t, std::less<>> reasons_;
};

// ---- base --------------------------------------------------------------------------------------

class FilterBase : public parley::Filter {
  public:
    std::string report() override { return tally_.json(); }
    const Tally &tally() const { return tally_; }

  protected:
    explicit FilterBase(std::string component) : component_(std::move(component)) {}
    // Parses a pushed row; counts and logs it as unreadable and returns nullopt when it is.
    // `any_object`: a JSON object of no known shape is returned (kind Unreadable) too.
    std::optional<Row> read(std::string_view text, bool any_object = false);
    void unreadable(std::string_view why); // dropped, reason "unreadable", logged (first few)
    void keep(std::string_view text, Emitter &out);
    void drop(std::string_view reason) { tally_.drop(reason); }

    std::string component_;
    Tally tally_;
    size_t ordinal_ = 0; // 1-based index of the row being pushed
    size_t warned_ = 0;
};

// Writes a row as one line: the input trimmed; line breaks between tokens become spaces.
void emit_line(Emitter &out, std::string_view text);

// ---- filters/question --------------------------------------------------------------------------

namespace ps = parley::param;

inline constexpr parley_param kHardThreshold =
    ps::number("hard_threshold", 1.0, "keep a question if the mean of its metric over its trees is <= this");
inline constexpr parley_param kMinThreshold = ps::number("min_threshold", 0.0, "... and >= this");
inline constexpr parley_param kMetric =
    ps::string("metric", "agreement_correctness", "per-record metric: the metrics key equal to it or ending in \"-<metric>\"");
inline constexpr parley_param kQuestionParams[] = {kHardThreshold, kMinThreshold, kMetric};

class QuestionFilter final : public FilterBase {
  public:
    explicit QuestionFilter(const parley::Config &cfg);
    void push(std::string_view record_json, Emitter &out) override;
    void finish(Emitter &out) override;

  private:
    double hard_, min_;
    std::string metric_;
    struct Held {
        std::string text;
        size_t group;
    };
    std::vector<Held> held_;
    std::unordered_map<std::string, size_t> group_of_;
    std::vector<std::pair<double, size_t>> groups_; // sum, count
};

// ---- filters/belief ----------------------------------------------------------------------------

inline constexpr const char *kBeliefModes[] = {"success", "any_correct", "contrastive", "valid"};
inline constexpr parley_param kBeliefMode = ps::choice("mode", kBeliefModes, "success", "which trees to keep (see README)");
inline constexpr parley_param kBeliefParams[] = {kBeliefMode};

class BeliefFilter final : public FilterBase {
  public:
    enum class Mode { Success, AnyCorrect, Contrastive, Valid };
    explicit BeliefFilter(const parley::Config &cfg);
    void push(std::string_view record_json, Emitter &out) override;

  private:
    Mode mode_;
};

// ---- filters/dedupe ----------------------------------------------------------------------------

inline constexpr parley_param kFields = ps::computed("fields", PARLEY_TYPE_STRING_ARRAY, "by row kind",
                                                     "key fields (dotted paths allowed); default by row kind (see README)");
inline constexpr parley_param kNormalizeWhitespace =
    ps::flag("normalize_whitespace", false, "collapse whitespace runs and trim before comparing");
inline constexpr parley_param kExact =
    ps::flag("exact", true, "true: remember full keys (no false positives); false: a 128-bit digest per key (16 bytes)");
inline constexpr parley_param kDedupeParams[] = {kFields, kNormalizeWhitespace, kExact};

struct Digest128 {
    uint64_t a, b;
    bool operator==(const Digest128 &) const = default;
};
Digest128 digest128(std::string_view s);

class DedupeFilter final : public FilterBase {
  public:
    explicit DedupeFilter(const parley::Config &cfg);
    void push(std::string_view record_json, Emitter &out) override;
    // The key a row is compared by; nullopt when it has none (unreadable). Exposed for tests.
    std::optional<std::string> key_of(const Row &row, std::string *why = nullptr) const;

  private:
    struct DigestHash {
        size_t operator()(const Digest128 &d) const { return static_cast<size_t>(d.a ^ (d.b * 0x9E3779B97F4A7C15ull)); }
    };
    std::vector<std::string> fields_;
    bool normalize_, exact_;
    std::unordered_set<std::string> seen_;
    std::unordered_set<Digest128, DigestHash> seen_digest_;
};

// ---- filters/length ----------------------------------------------------------------------------

// Bounds are optional (no default: absent means unbounded) and never negative.
constexpr parley_param length_bound(const char *key, const char *doc) {
    return ps::computed(key, PARLEY_TYPE_INT, nullptr, doc, parley::at_least(0));
}
inline constexpr parley_param kLengthBounds[] = {
    length_bound("min_tokens", "lower bound on target tokens (rows: parley.*_tokens; records: turn completion_tokens)"),
    length_bound("max_tokens", "upper bound on target tokens"),
    length_bound("min_chars", "lower bound on target text length in characters (code points)"),
    length_bound("max_chars", "upper bound on target text length in characters"),
    length_bound("min_turns", "records: lower bound on answer turns (turn 0 not counted)"),
    length_bound("max_turns", "records: upper bound on answer turns (turn 0 not counted)"),
};
inline constexpr const char *kLengthModes[] = {"all", "mean"};
inline constexpr parley_param kLengthMode =
    ps::choice("mode", kLengthModes, "all", "records: all = every answer turn within bounds; mean = their mean");
inline constexpr parley_param kLengthParams[] = {kLengthBounds[0], kLengthBounds[1], kLengthBounds[2], kLengthBounds[3],
                                                 kLengthBounds[4], kLengthBounds[5], kLengthMode};

class LengthFilter final : public FilterBase {
  public:
    explicit LengthFilter(const parley::Config &cfg);
    void push(std::string_view record_json, Emitter &out) override;

  private:
    struct Bound {
        std::optional<int64_t> lo, hi;
        bool active() const { return lo || hi; }
    };
    // The first violated bound's reason, "" if none. `values` are checked (all or mean).
    std::string check(const Bound &b, const char *lo_reason, const char *hi_reason,
                      const std::vector<double> &values, bool mean) const;
    Bound tokens_, chars_, turns_;
    bool mean_ = false;
};

} // namespace parley::filters
