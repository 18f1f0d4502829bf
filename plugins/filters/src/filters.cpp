// plugins/filters/src/filters.cpp — see filters.hpp and README.md.
#include "filters.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace parley::filters {

// ---- rows -------------------------------------------------------------------------------------

const char *kind_name(RowKind k) {
    switch (k) {
    case RowKind::Record: return "record";
    case RowKind::CoralPair: return "pair";
    case RowKind::CoralSft: return "sft";
    case RowKind::TrlPair: return "trl_pair";
    case RowKind::TrlSft: return "trl_messages";
    case RowKind::Unreadable: break;
    }
    return "unreadable";
}

RowKind classify(const json &row) {
    if (!row.is_object()) return RowKind::Unreadable;
    auto has = [&](const char *k) { return row.contains(k); };
    auto str = [&](const char *k) { auto it = row.find(k); return it != row.end() && it->is_string(); };
    if (has("conv_result")) return row["conv_result"].is_array() ? RowKind::Record : RowKind::Unreadable;
    if (has("tgt_chosen") || has("tgt_rejected"))
        return str("tgt_chosen") && str("tgt_rejected") && str("src") ? RowKind::CoralPair : RowKind::Unreadable;
    if (has("chosen") || has("rejected")) {
        auto ok = [&](const char *k) { auto it = row.find(k); return it != row.end() && (it->is_string() || it->is_array()); };
        return ok("chosen") && ok("rejected") ? RowKind::TrlPair : RowKind::Unreadable;
    }
    if (has("tgt")) return str("tgt") && str("src") ? RowKind::CoralSft : RowKind::Unreadable;
    if (has("messages")) return row["messages"].is_array() ? RowKind::TrlSft : RowKind::Unreadable;
    return RowKind::Unreadable;
}

Row parse_row(std::string_view text) {
    Row r;
    r.value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (r.value.is_discarded()) {
        r.why = "not valid JSON";
        r.value = nullptr;
        return r;
    }
    if (!r.value.is_object()) {
        r.why = "not a JSON object";
        return r;
    }
    r.kind = classify(r.value);
    if (r.kind == RowKind::Unreadable) r.why = "not a record, pair or SFT row (or a known field has the wrong type)";
    return r;
}

// ---- helpers ------------------------------------------------------------------------------------

const json *find_path(const json &obj, std::string_view path) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(std::string(path));
    if (it != obj.end()) return &*it;
    const json *cur = &obj;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string key(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (!cur->is_object()) return nullptr;
        auto f = cur->find(key);
        if (f == cur->end()) return nullptr;
        cur = &*f;
        if (dot == std::string_view::npos) return cur;
        start = dot + 1;
    }
}

namespace rec = coral_record;

const json *extractor_annotation(const json &turn) { return rec::Turn(turn).extractor().node(); }

const json *matcher_annotation(const json &turn) { return rec::Turn(turn).matcher().node(); }

// The score, else info.metrics.em (a matcher annotation without a score still has its em).
std::optional<double> matcher_score(const json &turn) {
    const rec::Annotation m = rec::Turn(turn).matcher();
    if (!m) return std::nullopt;
    if (auto s = m.score()) return s;
    return m.em();
}

double turn_correctness(const json &turn) {
    auto s = matcher_score(turn);
    return s && *s == 1.0 ? 1.0 : 0.0;
}

// Unlike stop_conv's belief (coral_record::Turn::belief), an extractor annotation without a score
// is judged by its answer alone.
bool belief_valid(const json &turn) {
    const rec::Annotation e = rec::Turn(turn).extractor();
    if (!e) return false;
    if (auto s = e.score(); s && *s == 0.0) return false; // Coral: belief = None
    const std::string *a = e.extracted_answer();
    return a && rec::valid_answer(*a);
}

const json *siblings(const json &turn) { return rec::Turn(turn).siblings(); }

std::optional<double> record_metric(const json &record, std::string_view name) {
    if (const json *m = rec::find_metric(record, name)) return as_number(*m);
    // Fallbacks: the metric from the turns (Coral §3).
    const json &conv = rec::turns_of(record);
    if (conv.is_null()) return std::nullopt;
    if (name == "agreement_correctness") {
        for (const json &t : conv)
            if (rec::Turn(t).extractor().agreement()) return turn_correctness(t);
        return 0.0;
    }
    if (name == "final_success_rate") {
        for (const json &t : conv)
            if (turn_correctness(t) == 1.0) return 1.0;
        return 0.0;
    }
    return std::nullopt;
}

std::optional<std::string> question_key(const json &record) {
    auto text = [](const json &v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    const json *dom = find_path(record, "parley.domain");
    const json *id = find_path(record, "parley.id");
    if (dom && id && !dom->is_null() && !id->is_null()) return "p\x1f" + text(*dom) + "\x1f" + text(*id);
    const json *ip = find_path(record, "metadata.init_prompt");
    if (ip && ip->is_string()) return "i\x1f" + ip->get<std::string>();
    const json &turns = rec::turns_of(record);
    if (!turns.empty())
        if (const std::string *c = rec::Turn(turns[0]).content()) return "i\x1f" + *c; // turn 0 is the init prompt
    return std::nullopt;
}

size_t utf8_chars(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string normalize_ws(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool pending = false;
    for (char c : s) {
        if (is_ws(c)) {
            pending = !out.empty();
            continue;
        }
        if (pending) out.push_back(' ');
        pending = false;
        out.push_back(c);
    }
    return out;
}

// ---- tally ----------------------------------------------------------------------------------------

void Tally::drop(std::string_view reason) {
    ++dropped_;
    auto it = reasons_.find(reason);
    if (it == reasons_.end()) reasons_.emplace(std::string(reason), 1);
    else ++it->second;
}

std::string Tally::json() const {
    nlohmann::ordered_json j;
    j["kept"] = kept_;
    j["dropped"] = dropped_;
    j["reasons"] = nlohmann::ordered_json::object();
    for (auto &[k, v] : reasons_) j["reasons"][k] = v;
    return j.dump();
}

// ---- base -----------------------------------------------------------------------------------------

static std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

void emit_line(Emitter &out, std::string_view text) {
    text = trim(text);
    if (text.find_first_of("\r\n") == std::string_view::npos) {
        out.emit(text);
        return;
    }
    // JSON strings cannot hold a raw line break, so any is whitespace between tokens.
    std::string one(text);
    for (char &c : one)
        if (c == '\n' || c == '\r') c = ' ';
    out.emit(one);
}

std::optional<Row> FilterBase::read(std::string_view text, bool any_object) {
    ++ordinal_;
    Row r = parse_row(trim(text));
    if (r.kind == RowKind::Unreadable && !(any_object && r.value.is_object())) {
        unreadable(r.why);
        return std::nullopt;
    }
    return r;
}

void FilterBase::unreadable(std::string_view why) {
    tally_.drop("unreadable");
    constexpr size_t kMaxWarnings = 5;
    if (warned_ < kMaxWarnings) {
        std::string m = "row " + std::to_string(ordinal_) + " dropped as unreadable: " + std::string(why);
        if (++warned_ == kMaxWarnings) m += " (further unreadable rows are counted, not logged)";
        log_warn(component_, m);
    }
}

void FilterBase::keep(std::string_view text, Emitter &out) {
    tally_.keep();
    emit_line(out, text);
}

// ---- filters/question -------------------------------------------------------------------------------

QuestionFilter::QuestionFilter(const parley::Config &cfg)
    : FilterBase("filters/question"), hard_(cfg.get<double>(kHardThreshold)), min_(cfg.get<double>(kMinThreshold)),
      metric_(cfg.get<std::string>(kMetric)) {
    if (!std::isfinite(hard_) || !std::isfinite(min_) || min_ > hard_)
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, "filters/question: need finite min_threshold <= hard_threshold");
    if (metric_.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "filters/question: 'metric' is empty");
}

void QuestionFilter::push(std::string_view record_json, Emitter &) {
    auto row = read(record_json);
    if (!row) return;
    if (row->kind != RowKind::Record)
        return unreadable(std::string("a ") + kind_name(row->kind) + " row, not a conversation record");
    auto key = question_key(row->value);
    if (!key) return unreadable("no question key (parley.domain/id, metadata.init_prompt or turn 0)");
    auto v = record_metric(row->value, metric_);
    if (!v) return unreadable("no metric '" + metric_ + "'");
    auto [it, fresh] = group_of_.emplace(std::move(*key), groups_.size());
    if (fresh) groups_.emplace_back(0.0, 0);
    groups_[it->second].first += *v;
    groups_[it->second].second += 1;
    held_.push_back(Held{std::string(trim(record_json)), it->second});
}

void QuestionFilter::finish(Emitter &out) {
    std::vector<int> verdict(groups_.size()); // 0 keep, 1 above, 2 below
    size_t kept_q = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
        double mean = groups_[g].first / static_cast<double>(groups_[g].second);
        verdict[g] = mean > hard_ ? 1 : mean < min_ ? 2 : 0;
        kept_q += verdict[g] == 0;
    }
    for (const Held &h : held_) {
        switch (verdict[h.group]) {
        case 0: keep(h.text, out); break;
        case 1: drop("above_hard_threshold"); break;
        default: drop("below_min_threshold"); break;
        }
    }
    if (!groups_.empty())
        log_info(component_, "questions kept " + std::to_string(kept_q) + " of " + std::to_string(groups_.size()));
    held_.clear();
    held_.shrink_to_fit();
    group_of_.clear();
    groups_.clear();
}

// ---- filters/belief ---------------------------------------------------------------------------------

BeliefFilter::BeliefFilter(const parley::Config &cfg) : FilterBase("filters/belief") {
    const std::string m = cfg.get<std::string>(kBeliefMode); // one of kBeliefModes
    if (m == "success") mode_ = Mode::Success;
    else if (m == "any_correct") mode_ = Mode::AnyCorrect;
    else if (m == "contrastive") mode_ = Mode::Contrastive;
    else if (m == "valid") mode_ = Mode::Valid;
    else
        throw Error(PARLEY_ERR_INVALID_ARGUMENT,
                    "filters/belief: mode '" + m + "' is not one of success, any_correct, contrastive, valid");
}

void BeliefFilter::push(std::string_view record_json, Emitter &out) {
    auto row = read(record_json);
    if (!row) return;
    const json &r = row->value;
    if (row->kind != RowKind::Record) {
        // Pair rows carry their scores: contrastive means a gap > 0.5 (Coral's pair rule).
        if (mode_ == Mode::Contrastive && (row->kind == RowKind::CoralPair || row->kind == RowKind::TrlPair)) {
            const json *c = find_path(r, "parley.chosen_score");
            const json *j = find_path(r, "parley.rejected_score");
            auto cs = c ? as_number(*c) : std::nullopt;
            auto rs = j ? as_number(*j) : std::nullopt;
            if (!cs || !rs) return unreadable("pair row without parley.chosen_score/rejected_score");
            if (*cs - *rs > 0.5) return keep(record_json, out);
            return drop("not_contrastive");
        }
        return unreadable(std::string("a ") + kind_name(row->kind) + " row, which this mode cannot judge");
    }
    const json &conv = rec::turns_of(r);
    switch (mode_) {
    case Mode::Success: {
        auto v = record_metric(r, "agreement_correctness");
        if (v && *v == 1.0) return keep(record_json, out);
        return drop("not_success");
    }
    case Mode::AnyCorrect: {
        for (size_t t = 1; t < conv.size(); ++t) {
            if (turn_correctness(conv[t]) == 1.0) return keep(record_json, out);
            if (const json *s = siblings(conv[t]))
                for (const json &c : *s)
                    if (turn_correctness(c) == 1.0) return keep(record_json, out);
        }
        return drop("no_correct_turn");
    }
    case Mode::Contrastive: {
        for (size_t t = 1; t < conv.size(); ++t) {
            double hi = turn_correctness(conv[t]), lo = hi;
            if (const json *s = siblings(conv[t]))
                for (const json &c : *s) {
                    double v = turn_correctness(c);
                    hi = std::max(hi, v);
                    lo = std::min(lo, v);
                }
            if (hi - lo > 0.5) return keep(record_json, out);
        }
        return drop("not_contrastive");
    }
    case Mode::Valid:
        if (conv.size() >= 2 && belief_valid(conv.back())) return keep(record_json, out);
        return drop("invalid_final_belief");
    }
}

// ---- filters/dedupe ---------------------------------------------------------------------------------

static uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix64(uint64_t x) { // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

// A second, independent 64-bit hash: 8-byte words folded through multiply-xorshift rounds.
static uint64_t wordhash64(std::string_view s) {
    uint64_t h = 0x243f6a8885a308d3ull ^ (s.size() * 0x9E3779B97F4A7C15ull);
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = mix64(h ^ mix64(w + 0x9E3779B97F4A7C15ull)) * 0xff51afd7ed558ccdull;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    h = mix64(h ^ mix64(tail ^ (static_cast<uint64_t>(s.size() - i) << 56)));
    return h;
}

Digest128 digest128(std::string_view s) { return Digest128{fnv1a64(s) ^ (s.size() * 0xc2b2ae3d27d4eb4full), wordhash64(s)}; }

DedupeFilter::DedupeFilter(const parley::Config &cfg)
    : FilterBase("filters/dedupe"), fields_(cfg.get(kFields.key, std::vector<std::string>{})),
      normalize_(cfg.get<bool>(kNormalizeWhitespace)), exact_(cfg.get<bool>(kExact)) {
    for (auto &f : fields_)
        if (f.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "filters/dedupe: an entry of 'fields' is empty");
}

namespace {
// Builds an unambiguous key: each part as <type tag><length>:<bytes>, so no two different
// sequences of parts (or a string and a number with the same text) give the same key.
struct KeyBuilder {
    bool normalize;
    std::string key;
    void raw(char tag, std::string_view s) {
        key += tag;
        key += std::to_string(s.size());
        key += ':';
        key += s;
    }
    void text(std::string_view s) {
        if (normalize) raw('s', normalize_ws(s));
        else raw('s', s);
    }
    void value(const json &v) { // strings as text, message lists as role/content, else JSON text
        if (v.is_string()) return text(v.get_ref<const std::string &>());
        if (v.is_array() && std::all_of(v.begin(), v.end(), [](const json &m) { return m.is_object(); })) {
            raw('[', std::to_string(v.size()));
            for (const json &m : v) {
                auto r = m.find("role");
                auto c = m.find("content");
                if (r != m.end() && r->is_string()) text(r->get_ref<const std::string &>());
                else raw('-', "");
                if (c != m.end() && c->is_string()) text(c->get_ref<const std::string &>());
                else if (c == m.end()) raw('-', "");
                else raw('j', c->dump());
            }
            return;
        }
        raw('j', v.dump());
    }
};
} // namespace

std::optional<std::string> DedupeFilter::key_of(const Row &row, std::string *why) const {
    KeyBuilder kb{normalize_, {}};
    const json &r = row.value;
    if (!fields_.empty()) {
        size_t found = 0;
        for (const auto &f : fields_) {
            const json *v = find_path(r, f);
            if (!v) {
                kb.raw('-', "");
                continue;
            }
            ++found;
            kb.value(*v);
        }
        if (!found) {
            if (why) *why = "none of the key fields is present";
            return std::nullopt;
        }
        return std::move(kb.key);
    }
    kb.raw('k', kind_name(row.kind)); // rows of different kinds never collide
    switch (row.kind) {
    case RowKind::CoralPair:
        kb.value(r["src"]), kb.value(r["tgt_chosen"]), kb.value(r["tgt_rejected"]);
        break;
    case RowKind::CoralSft:
        kb.value(r["src"]), kb.value(r["tgt"]);
        break;
    case RowKind::TrlPair:
        kb.value(r.contains("prompt") ? r["prompt"] : json()), kb.value(r["chosen"]), kb.value(r["rejected"]);
        break;
    case RowKind::TrlSft:
        kb.value(r["messages"]);
        break;
    case RowKind::Record:
        kb.value(rec::turns_of(r)); // the chosen path's roles and contents
        break;
    case RowKind::Unreadable:
        if (why) *why = "unreadable";
        return std::nullopt;
    }
    return std::move(kb.key);
}

void DedupeFilter::push(std::string_view record_json, Emitter &out) {
    auto row = read(record_json, /*any_object=*/!fields_.empty());
    if (!row) return;
    std::string why;
    auto key = key_of(*row, &why);
    if (!key) return unreadable(why);
    bool fresh = exact_ ? seen_.insert(std::move(*key)).second : seen_digest_.insert(digest128(*key)).second;
    if (fresh) keep(record_json, out);
    else drop("duplicate");
}

// ---- filters/length ---------------------------------------------------------------------------------

LengthFilter::LengthFilter(const parley::Config &cfg) : FilterBase("filters/length") {
    auto opt = [&](const parley_param &p) -> std::optional<int64_t> { // range (>= 0) checked by get
        if (!cfg.has(p.key)) return std::nullopt;
        return cfg.get<int64_t>(p);
    };
    tokens_ = {opt(kLengthBounds[0]), opt(kLengthBounds[1])};
    chars_ = {opt(kLengthBounds[2]), opt(kLengthBounds[3])};
    turns_ = {opt(kLengthBounds[4]), opt(kLengthBounds[5])};
    const std::pair<const Bound *, const char *> bounds[] = {{&tokens_, "tokens"}, {&chars_, "chars"}, {&turns_, "turns"}};
    for (auto [b, name] : bounds)
        if (b->lo && b->hi && *b->lo > *b->hi)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, std::string("filters/length: min_") + name + " > max_" + name);
    mean_ = cfg.get<std::string>(kLengthMode) == "mean"; // one of kLengthModes
}

std::string LengthFilter::check(const Bound &b, const char *lo_reason, const char *hi_reason,
                                const std::vector<double> &values, bool mean) const {
    if (!b.active() || values.empty()) return {};
    double lo = values[0], hi = values[0];
    if (mean) {
        double s = 0;
        for (double v : values) s += v;
        lo = hi = s / static_cast<double>(values.size());
    } else {
        for (double v : values) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (b.lo && lo < static_cast<double>(*b.lo)) return lo_reason;
    if (b.hi && hi > static_cast<double>(*b.hi)) return hi_reason;
    return {};
}

static const json *last_assistant(const json &msgs) {
    if (!msgs.is_array() || msgs.empty()) return nullptr;
    for (auto it = msgs.rbegin(); it != msgs.rend(); ++it)
        if (it->is_object() && it->value("role", json()) == "assistant") return &*it;
    return &msgs.back();
}

// The target text of a TRL "chosen"/"rejected"/"messages" value.
static std::optional<std::string> target_text(const json &v) {
    if (v.is_string()) return v.get<std::string>();
    const json *m = last_assistant(v);
    if (!m || !m->is_object()) return std::nullopt;
    auto c = m->find("content");
    if (c == m->end() || !c->is_string()) return std::nullopt;
    return c->get<std::string>();
}

void LengthFilter::push(std::string_view record_json, Emitter &out) {
    auto row = read(record_json);
    if (!row) return;
    const json &r = row->value;
    std::vector<double> tokens, chars;
    bool tokens_missing = false;
    std::string reason;

    auto tok = [&](const char *path) {
        const json *v = find_path(r, path);
        auto n = v ? as_number(*v) : std::nullopt;
        if (n) tokens.push_back(*n);
        else tokens_missing = true;
    };
    auto text = [&](const std::optional<std::string> &s) {
        if (!s) return false;
        chars.push_back(static_cast<double>(utf8_chars(*s)));
        return true;
    };

    bool mean = false;
    switch (row->kind) {
    case RowKind::Record: {
        const json &conv = rec::turns_of(r);
        size_t answers = conv.empty() ? 0 : conv.size() - 1;
        reason = check(turns_, "min_turns", "max_turns", {static_cast<double>(answers)}, false);
        for (size_t t = 1; t < conv.size(); ++t) {
            const coral_record::Turn turn(conv[t]);
            if (auto n = turn.completion_tokens()) tokens.push_back(*n);
            if (const std::string *c = turn.content()) chars.push_back(static_cast<double>(utf8_chars(*c)));
        }
        tokens_missing = tokens.empty();
        mean = mean_;
        break;
    }
    case RowKind::CoralPair:
    case RowKind::TrlPair:
        tok("parley.chosen_tokens");
        tok("parley.rejected_tokens");
        if (row->kind == RowKind::CoralPair) {
            text(r["tgt_chosen"].get<std::string>());
            text(r["tgt_rejected"].get<std::string>());
        } else if (!text(target_text(r["chosen"])) || !text(target_text(r["rejected"]))) {
            return unreadable("a TRL pair whose chosen/rejected has no assistant text");
        }
        break;
    case RowKind::CoralSft:
        tok("parley.tgt_tokens");
        text(r["tgt"].get<std::string>());
        break;
    case RowKind::TrlSft:
        tok("parley.tgt_tokens");
        if (!text(target_text(r["messages"]))) return unreadable("a messages row without assistant text");
        break;
    case RowKind::Unreadable: return;
    }
    if (reason.empty() && tokens_.active()) {
        if (tokens_missing) reason = "no_token_counts";
        else reason = check(tokens_, "min_tokens", "max_tokens", tokens, mean);
    }
    if (reason.empty()) reason = check(chars_, "min_chars", "max_chars", chars, mean);
    if (reason.empty()) keep(record_json, out);
    else drop(reason);
}

} // namespace parley::filters
