// core/pairs: DPO preference pairs and SFT rows from conversation records, by Coral's rules
// (collaborative-reasoner finetuning/data_creation, doc §4.2–§4.3):
//   pairs — at each turn the chosen candidate and its siblings share a prefix; candidates are
//   scored by their matcher score (gold = 1), optionally penalised for agreeing or for length;
//   pairs whose score gap exceeds `min_gap` are sorted by gap, `pairs_per_turn` kept per turn,
//   then shuffled and cut to `pairs_per_question` per question, then shuffled globally.
//   sft — every turn of the first trees ("all"), trees that agreed correctly ("success"), or
//   turns holding the gold belief with their earlier turns ("correct_turns").
// `profile = "coral"` reproduces the official filter (ts_correctness_filtering.py,
// filtering_utils.py) row for row; "fixed" corrects its quirks (README, core/pairs).
// `src` is the speaker's view of the conversation so far (system prompt, own turns as assistant,
// the partner's as user) rendered with the model's chat template, as Coral's rows are; TRL-style
// conversational rows carry the same messages unrendered.
#include <parley/core/host_services.hpp>
#include <parley/core/json_writer.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/run.hpp>
#include <parley/coral_record.hpp>

#include "chat_template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <tuple>

namespace parley::core {

const CoreNode &pairs_node(); // its schema: the keys this file binds (defined at the end)

namespace {

using json = nlohmann::json;
namespace rec = coral_record;

uint64_t splitmix(uint64_t &state) {
    uint64_t x = (state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// A seeded Fisher-Yates (std::shuffle's sequence is library-specific; this one is not).
template <class T> void shuffle(std::vector<T> &v, uint64_t &state) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[splitmix(state) % i]);
}

double number(const json &v) { return rec::number(v).value_or(0.0); }

struct Candidate {
    const json *turn;
    double correct = 0, score = 0, tokens = 0;
    bool agree = false;
};

// The official filter's quirks (coral) or their corrections (fixed); README, core/pairs.
struct Profile {
    bool coral = true;
    double agreement_penalty = 0, length_penalty = 0;
};

// The matcher annotation's score (get_turn_correctness); 0 without one.
double matcher_score(const json &turn) { return rec::Turn(turn).correctness(); }

// coral: the extractor annotation's info.agreement (get_agreement); fixed: stop_conv when the
// record has it (the decision tree sampling took for this candidate).
bool agreed(const json &turn, const Profile &profile) {
    const rec::Turn t(turn);
    if (auto stop = t.stop_conv(); stop && !profile.coral) return *stop;
    return t.extractor().agreement();
}

// The length the penalty compares. coral: usage.completion_tokens as the official filter reads it
// (for tree-sampled candidates the whole request's, so the term does not separate siblings), 1
// when absent (a failed request: get_turn_length's fallback). fixed: the candidate's own count,
// 0 when absent or unknown.
double completion_tokens(const json &turn, const Profile &profile) {
    const rec::Turn t(turn);
    if (!profile.coral) return t.own_completion_tokens().value_or(0.0);
    return t.completion_tokens().value_or(1.0);
}

// Scores a turn's candidates: the matcher score, less the penalties. coral applies at most one
// (agreement wins, as the official `if/elif`); the length term is computed in its order,
// p * ((len - min) / (1 + max - min)).
void score_candidates(std::vector<Candidate> &cands, const Profile &profile) {
    double lo = 1e300, hi = -1e300;
    for (auto &cd : cands) {
        cd.correct = matcher_score(*cd.turn);
        cd.agree = agreed(*cd.turn, profile);
        cd.tokens = completion_tokens(*cd.turn, profile);
        lo = std::min(lo, cd.tokens);
        hi = std::max(hi, cd.tokens);
    }
    for (auto &cd : cands) {
        cd.score = cd.correct;
        if (profile.agreement_penalty != 0) cd.score -= (cd.agree ? 1.0 : 0.0) * profile.agreement_penalty * (1.0 - cd.correct);
        if (profile.length_penalty != 0) cd.score -= profile.length_penalty * ((cd.tokens - lo) / (1.0 + hi - lo));
    }
}

// Reads `profile` and the penalties. Under coral the official penalties are switches with a
// fixed weight of 0.1, and only one applies.
Profile read_profile(const toml::table &c, const std::string &node) {
    Profile p;
    p.coral = bound<std::string>(c, "profile") == "coral"; // or "fixed": the schema's choices
    p.agreement_penalty = bound<double>(c, "agreement_penalty");
    p.length_penalty = bound<double>(c, "length_penalty");
    if (!p.coral) return p;
    for (auto [key, value] : {std::pair{"agreement_penalty", p.agreement_penalty}, std::pair{"length_penalty", p.length_penalty}})
        if (value != 0 && value != 0.1)
            throw std::runtime_error(fmt::format("nodes.{}.{}: {} under profile = \"coral\": the official filter's penalty is "
                                                 "0.1 or off (0); set profile = \"fixed\" for another weight",
                                                 node, key, value));
    if (p.agreement_penalty != 0 && p.length_penalty != 0) {
        logger().warn("[{}] profile = \"coral\": agreement_penalty and length_penalty are exclusive, as in the official "
                      "filter; only agreement_penalty applies (profile = \"fixed\" applies both)",
                      node);
        p.length_penalty = 0;
    }
    return p;
}

json messages_json(const std::vector<ChatMessage> &messages) {
    json a = json::array();
    for (auto &m : messages) a.push_back({{"role", m.role}, {"content", m.content}});
    return a;
}

} // namespace

void run_pairs(RunContext &ctx) {
    const toml::table c = with_defaults(ctx.node.config, pairs_node().schema); // types, defaults, ranges, choices: the schema below
    const int64_t per_turn = bound<int64_t>(c, "pairs_per_turn");
    const int64_t per_question = bound<int64_t>(c, "pairs_per_question");
    const double min_gap = bound<double>(c, "min_gap");
    const int64_t first_n = bound<int64_t>(c, "first_n_turns");
    const Profile profile = read_profile(c, ctx.node.name);
    uint64_t rng = static_cast<uint64_t>(bound<int64_t>(c, "seed"));
    const std::string sft_mode = bound<std::string>(c, "sft_mode");
    const int64_t sft_per_question = bound<int64_t>(c, "sft_per_question");
    const int64_t add_prev = bound<int64_t>(c, "add_prev_turns");
    const std::string template_mode = bound<std::string>(c, "chat_template");
    Backend *backend = nullptr;
    if (auto it = ctx.node.inputs.find("backend"); it != ctx.node.inputs.end()) backend = ctx.backends.at(it->second.front());
    if (template_mode == "backend" && !backend)
        throw std::runtime_error(fmt::format("nodes.{}: chat_template = \"backend\" needs a `backend` input (or set chat_template = \"chatml\")", ctx.node.name));

    // Not "backend" or "none": chatml, a tokenizer_config.json or .jinja file, or Jinja source.
    std::optional<chat::Template> own_template;
    if (template_mode != "backend" && template_mode != "none")
        own_template = chat::Template::from_option(template_mode, fmt::format("nodes.{}.chat_template", ctx.node.name));
    auto render = [&](const std::vector<ChatMessage> &messages) -> std::string {
        if (template_mode == "none") return {};
        if (own_template) return own_template->render_messages(messages);
        auto s = backend->apply_template(messages);
        if (!s) throw std::runtime_error(fmt::format("backend '{}' cannot render its chat template", backend->node()));
        return *s;
    };

    // Records grouped by question, in first-seen order.
    std::vector<json> records;
    for (auto &file : ctx.input_files("records"))
        for (auto &r : read_jsonl_for_resume(file)) records.push_back(std::move(r));
    // Records arrive in completion order, which varies from run to run: sort them so the same
    // records always give the same pairs.
    auto sort_key = [](const json &r) {
        const json &p = r.value("parley", json::object());
        return std::make_tuple(p.value("domain", std::string()), p.value("id", std::string()), p.value("trial", int64_t{0}),
                               rec::metadata_string(r, "init_prompt"));
    };
    std::stable_sort(records.begin(), records.end(), [&](const json &a, const json &b) { return sort_key(a) < sort_key(b); });
    std::vector<std::string> order;
    std::map<std::string, std::vector<const json *>> by_question;
    for (auto &r : records) {
        // coral groups by the initial prompt, as the official code does (sort_matrix_results).
        std::string key = r.contains("parley") && !profile.coral ? r["parley"].value("domain", "") + "\x1f" + r["parley"].value("id", "")
                                                                 : rec::metadata_string(r, "init_prompt");
        if (!by_question.count(key)) order.push_back(key);
        by_question[key].push_back(&r);
    }

    // The speaker's view of conv[0, t): system prompt, own turns as assistant, others' as user.
    auto view = [](const json &record, size_t t) {
        const json &conv = rec::turns_of(record);
        const std::string_view role = rec::Turn(conv[t]).role();
        std::vector<ChatMessage> m;
        std::string sys = rec::metadata_string(record, (std::string(role) + "_inst").c_str());
        if (!sys.empty()) m.push_back({"system", sys});
        for (size_t i = 0; i < t; ++i) {
            const rec::Turn turn(conv[i]);
            m.push_back({turn.role() == role ? "assistant" : "user", turn.content() ? *turn.content() : std::string()});
        }
        return m;
    };
    auto parley_of = [](const json &record, size_t t) {
        const json &p = record.value("parley", json::object());
        return json{{"id", p.value("id", "")}, {"trial", p.value("trial", 0)}, {"domain", p.value("domain", "")}, {"turn", t}};
    };

    struct Pair {
        const json *record;
        size_t turn;
        Candidate chosen, rejected;
    };
    std::vector<Pair> pairs;
    size_t turns_seen = 0, turns_with_pairs = 0;
    for (auto &q : order) {
        std::vector<Pair> question_pairs;
        for (const json *r : by_question[q]) {
            const json &conv = rec::turns_of(*r);
            for (size_t t = 1; t < conv.size() && (first_n <= 0 || static_cast<int64_t>(t) < first_n); ++t) {
                std::vector<Candidate> cands;
                cands.push_back({&conv[t]});
                if (const json *siblings = rec::Turn(conv[t]).siblings())
                    for (auto &s : *siblings) cands.push_back({&s});
                if (cands.size() < 2) continue;
                ++turns_seen;
                score_candidates(cands, profile);
                std::vector<std::pair<double, Pair>> turn_pairs;
                for (size_t i = 0; i < cands.size(); ++i)
                    for (size_t j = i + 1; j < cands.size(); ++j) {
                        const Candidate &a = cands[i].score >= cands[j].score ? cands[i] : cands[j];
                        const Candidate &b = cands[i].score >= cands[j].score ? cands[j] : cands[i];
                        double gap = a.score - b.score;
                        if (gap > min_gap) turn_pairs.push_back({gap, Pair{r, t, a, b}});
                    }
                std::stable_sort(turn_pairs.begin(), turn_pairs.end(), [](auto &x, auto &y) { return x.first > y.first; });
                if (!turn_pairs.empty()) ++turns_with_pairs;
                for (int64_t k = 0; k < per_turn && k < static_cast<int64_t>(turn_pairs.size()); ++k)
                    question_pairs.push_back(turn_pairs[k].second);
            }
        }
        shuffle(question_pairs, rng);
        if (per_question > 0 && static_cast<int64_t>(question_pairs.size()) > per_question) question_pairs.resize(per_question);
        pairs.insert(pairs.end(), question_pairs.begin(), question_pairs.end());
    }
    shuffle(pairs, rng);

    fs::create_directories(ctx.output_dir);
    auto open = [&](const std::string &name) {
        fs::path p = ctx.output_dir / (name + ".jsonl");
        ctx.outputs[ctx.node.name][name] = {p};
        return std::ofstream(p, std::ios::trunc);
    };
    {
        auto coral = open("pairs"), trl = open("pairs_trl");
        for (auto &p : pairs) {
            auto msgs = view(*p.record, p.turn);
            json meta = parley_of(*p.record, p.turn);
            meta["chosen_score"] = p.chosen.score;
            meta["rejected_score"] = p.rejected.score;
            meta["chosen_tokens"] = p.chosen.tokens; // the lengths the length term compared
            meta["rejected_tokens"] = p.rejected.tokens;
            const std::string chosen = p.chosen.turn->value("content", ""), rejected = p.rejected.turn->value("content", "");
            if (template_mode != "none")
                coral << json{{"src", render(msgs)}, {"tgt_chosen", chosen}, {"tgt_rejected", rejected}, {"pairwise", true}, {"parley", meta}}
                             .dump(-1, ' ', false, json::error_handler_t::replace)
                      << "\n";
            trl << json{{"prompt", messages_json(msgs)},
                        {"chosen", json::array({{{"role", "assistant"}, {"content", chosen}}})},
                        {"rejected", json::array({{{"role", "assistant"}, {"content", rejected}}})},
                        {"parley", meta}}
                       .dump(-1, ' ', false, json::error_handler_t::replace)
                << "\n";
        }
    }

    // SFT rows.
    size_t sft_rows = 0;
    {
        auto coral = open("sft"), trl = open("sft_trl");
        auto emit = [&](const json &record, size_t t) {
            const json &turn = rec::turns_of(record)[t];
            if (!profile.coral && rec::Turn(turn).status_ok() == 0) return; // coral trains on the error text too
            auto msgs = view(record, t);
            json meta = parley_of(record, t);
            const auto own = rec::Turn(turn).own_completion_tokens();
            meta["tgt_tokens"] = own ? json(*own) : json(nullptr);
            const std::string tgt = turn.value("content", "");
            if (template_mode != "none")
                coral << json{{"src", render(msgs)}, {"tgt", tgt}, {"parley", meta}}.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            json all = messages_json(msgs);
            all.push_back({{"role", "assistant"}, {"content", tgt}});
            trl << json{{"messages", all}, {"parley", meta}}.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            ++sft_rows;
        };
        auto agreement_correct = [](const json &r) {
            const json *m = rec::find_metric(r, "agreement_correctness");
            return m && number(*m) == 1.0;
        };
        // Turns 1 .. first_n_turns - 1 of a tree (all three modes, as in the official code).
        auto turn_end = [&](const json *r) {
            size_t n = rec::turns_of(*r).size();
            return first_n > 0 ? std::min(n, static_cast<size_t>(first_n)) : n;
        };
        // A gold turn: coral, a truthy matcher score (get_turn_correctness); fixed, a score of 1.
        auto gold_turn = [&](const json &turn) {
            double score = matcher_score(turn);
            return profile.coral ? score != 0.0 : score == 1.0;
        };
        for (auto &q : order) {
            auto trees = by_question[q];
            if (sft_mode == "success") {
                trees.erase(std::remove_if(trees.begin(), trees.end(), [&](const json *r) { return !agreement_correct(*r); }), trees.end());
                std::stable_sort(trees.begin(), trees.end(),
                                 [](const json *a, const json *b) { return rec::turns_of(*a).size() < rec::turns_of(*b).size(); });
            }
            if (sft_mode == "all" || sft_mode == "success") {
                for (int64_t k = 0; k < static_cast<int64_t>(trees.size()) && (sft_per_question <= 0 || k < sft_per_question); ++k)
                    for (size_t t = 1; t < turn_end(trees[k]); ++t) emit(*trees[k], t);
                continue;
            }
            // correct_turns: turns with the gold belief, by turn index, with their earlier turns;
            // coral adds a turn again for every later gold turn of its tree (filter_by_turns),
            // fixed once.
            std::vector<std::pair<size_t, const json *>> correct;
            for (const json *r : trees)
                for (size_t t = 1; t < turn_end(r); ++t)
                    if (gold_turn(rec::turns_of(*r)[t])) correct.push_back({t, r});
            std::stable_sort(correct.begin(), correct.end(), [](auto &a, auto &b) { return a.first < b.first; });
            if (sft_per_question > 0 && static_cast<int64_t>(correct.size()) > sft_per_question) correct.resize(sft_per_question);
            std::set<std::pair<const json *, size_t>> done;
            for (auto &[t, r] : correct) {
                size_t from = add_prev < 0 ? 1 : std::max<size_t>(1, t - std::min<size_t>(t, static_cast<size_t>(add_prev)));
                for (size_t u = from; u <= t; ++u)
                    if (profile.coral || done.insert({r, u}).second) emit(*r, u);
            }
        }
    }
    json report = {{"profile", profile.coral ? "coral" : "fixed"}, {"records", records.size()}, {"questions", order.size()},
                   {"turns_with_siblings", turns_seen}, {"turns_with_pairs", turns_with_pairs}, {"pairs", pairs.size()},
                   {"sft_rows", sft_rows},
                   {"config", json::parse(toml_to_json(c))}};
    write_json_atomic(ctx.output_dir / "report.json", report);
    logger().info("[{}] {} records, {} questions: {} pairs (from {} of {} sampled turns), {} SFT rows ({})", ctx.node.name,
                  records.size(), order.size(), pairs.size(), turns_with_pairs, turns_seen, sft_rows, sft_mode);
}

const CoreNode &pairs_node() {
    static const CoreNode node = [] {
        ComponentSchema pairs = core_schema("pairs", "DPO preference pairs and SFT rows from tree-sampled conversation records (Coral's rules)");
        pairs.params = {
            text("profile", "coral", "\"coral\" (the official filter's rows, quirks included) or \"fixed\" (its quirks corrected; README)")
                .one_of({"coral", "fixed"}),
            integer("pairs_per_turn", 1, "pairs kept per turn (Coral's code: 1; paper: 2)").at_least(0),
            integer("pairs_per_question", 10, "pairs kept per question (Coral's code: 10; paper: 20)").at_least(0),
            number("min_gap", 0.5, "chosen score minus rejected score must exceed this"),
            integer("first_n_turns", 0, "pairs and SFT rows from turns 1..n-1 only; 0 = all").at_least(0),
            number("agreement_penalty", 0.0, "discourage_agreement: score = c - agree*p*(1-c) (coral: 0 or 0.1, and it excludes length_penalty)"),
            number("length_penalty", 0.0, "discourage_length: score = c - p*norm_len (coral: 0 or 0.1)"),
            integer("seed", 42, "seed of the per-question and global shuffles"),
            text("sft_mode", "all",
                 "\"all\" (every turn of the first trees), \"success\" (trees that agreed correctly), \"correct_turns\" (turns with the gold belief)")
                .one_of({"all", "success", "correct_turns"}),
            integer("sft_per_question", 10, "trees (all/success) or turns (correct_turns) per question").at_least(0),
            integer("add_prev_turns", -1, "correct_turns: also add this many earlier turns; -1 = all").at_least(-1),
            text("chat_template", "backend",
                 "how `src` is rendered: \"backend\" (the backend input's chat template), \"chatml\", a Hugging Face "
                 "tokenizer_config.json or .jinja file (relative to the graph), Jinja source, or \"none\" (TRL rows only)"),
        };
        pairs.inputs = {
            {"records", kKindRows, true, true, "conversation records (tree-sampled for pairs)"},
            {"backend", PARLEY_KIND_BACKEND, false, false, "renders `src` with the model's chat template"},
        };
        pairs.outputs = {"pairs", "pairs_trl", "sft", "sft_trl"};
        return CoreNode{std::move(pairs), run_pairs};
    }();
    return node;
}

} // namespace parley::core
