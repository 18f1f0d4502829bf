#include "data.hpp"

#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace parley::training {

using parley::Error;
using nlohmann::json;

namespace {

struct RowError {
    std::string field, what;
};

std::string text_of(const json &content, const char *field) {
    if (content.is_string()) return content.get<std::string>();
    if (content.is_array()) { // OpenAI-style parts: [{"type":"text","text":...}]
        std::string s;
        for (auto &p : content) {
            if (p.is_object() && p.contains("text") && p["text"].is_string()) s += p["text"].get<std::string>();
            else throw RowError{field, "content parts must be {\"type\":\"text\",\"text\":...}"};
        }
        return s;
    }
    throw RowError{field, "content must be a string"};
}

std::vector<ChatMessage> messages_of(const json &v, const char *field) {
    if (!v.is_array()) throw RowError{field, "expected an array of messages"};
    std::vector<ChatMessage> out;
    for (auto &m : v) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content"))
            throw RowError{field, "each message needs \"role\" and \"content\""};
        out.push_back({m["role"].get<std::string>(), text_of(m["content"], field)});
    }
    return out;
}

std::string str_field(const json &row, const char *field) {
    if (!row.contains(field)) throw RowError{field, "missing"};
    if (!row[field].is_string()) throw RowError{field, "must be a string"};
    return row[field].get<std::string>();
}

struct Builder {
    const Tokenizer &tok;

    std::vector<int32_t> prompt_tokens(const std::string &src) const { return tok.tokenize(src, true, true); }

    // Target tokens for `tgt` following `src` (see data.hpp).
    std::vector<int32_t> target_tokens(const std::string &src, const std::vector<int32_t> &prompt, const std::string &tgt,
                                       bool append_eot) const {
        std::vector<int32_t> out;
        if (!tgt.empty()) {
            std::vector<int32_t> joint = tok.tokenize(src + tgt, true, true);
            if (joint.size() > prompt.size() && std::equal(prompt.begin(), prompt.end(), joint.begin()))
                out.assign(joint.begin() + static_cast<std::ptrdiff_t>(prompt.size()), joint.end());
            else
                out = tok.tokenize(tgt, false, true);
        }
        if (append_eot && tok.end_of_turn() >= 0) out.push_back(tok.end_of_turn());
        return out;
    }

    // Renders prompt messages and the reply; the target text is the rendered suffix.
    std::pair<std::string, std::string> render(const std::vector<ChatMessage> &prompt,
                                               const std::vector<ChatMessage> &reply) const {
        std::string src = tok.apply_template(prompt, true);
        std::vector<ChatMessage> all = prompt;
        all.insert(all.end(), reply.begin(), reply.end());
        std::string full = tok.apply_template(all, false);
        if (full.size() >= src.size() && full.compare(0, src.size(), src) == 0) return {src, full.substr(src.size())};
        std::string t;
        for (auto &m : reply) t += m.content;
        return {src, t};
    }
};

} // namespace

bool truncate_example(Example &ex, int max_seq_len, int32_t bos) {
    if (max_seq_len <= 0) return false;
    const size_t max = static_cast<size_t>(max_seq_len);
    const size_t p = ex.prompt.size();
    const size_t t = std::max(ex.chosen.size(), ex.rejected.size());
    if (p + t <= max) return false;
    const size_t keep_t = std::min(t, max - std::min(p, max / 2));
    const size_t keep_p = std::max<size_t>(1, max - keep_t);
    if (keep_p < p) {
        const bool had_bos = bos >= 0 && !ex.prompt.empty() && ex.prompt[0] == bos;
        std::vector<int32_t> np;
        if (had_bos && keep_p >= 2) {
            np.push_back(bos);
            np.insert(np.end(), ex.prompt.end() - static_cast<std::ptrdiff_t>(keep_p - 1), ex.prompt.end());
        } else {
            np.assign(ex.prompt.end() - static_cast<std::ptrdiff_t>(keep_p), ex.prompt.end());
        }
        ex.prompt = std::move(np);
    }
    const size_t room = max - ex.prompt.size();
    if (ex.chosen.size() > room) ex.chosen.resize(std::max<size_t>(room, 1));
    if (ex.rejected.size() > room) ex.rejected.resize(std::max<size_t>(room, 1));
    return true;
}

std::vector<Example> load_examples(const std::string &path, const Tokenizer &tok, Method method, int max_seq_len,
                                   DataStats *stats) {
    std::ifstream in(path);
    if (!in) throw Error(PARLEY_ERR_NOT_FOUND, "training data not found: '" + path + "'");
    Builder b{tok};
    std::vector<Example> out;
    DataStats st;
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        Example ex;
        ex.line = lineno;
        try {
            json row;
            try {
                row = json::parse(line);
            } catch (const json::exception &e) {
                throw RowError{"", std::string("invalid JSON: ") + e.what()};
            }
            if (!row.is_object()) throw RowError{"", "a row must be a JSON object"};
            const bool want_pair = method == Method::Dpo;
            if (row.contains("src")) {
                const std::string src = str_field(row, "src");
                ex.prompt = b.prompt_tokens(src);
                if (row.contains("tgt_chosen") || row.contains("tgt_rejected")) {
                    if (row.contains("pairwise") && row["pairwise"].is_boolean() && !row["pairwise"].get<bool>() && want_pair)
                        throw RowError{"pairwise", "false: not a preference pair"};
                    ex.chosen = b.target_tokens(src, ex.prompt, str_field(row, "tgt_chosen"), true);
                    if (want_pair) ex.rejected = b.target_tokens(src, ex.prompt, str_field(row, "tgt_rejected"), true);
                } else if (row.contains("tgt")) {
                    if (want_pair) throw RowError{"tgt", "an SFT row ({\"src\",\"tgt\"}) in DPO data: needs tgt_chosen and tgt_rejected"};
                    ex.chosen = b.target_tokens(src, ex.prompt, str_field(row, "tgt"), true);
                } else {
                    throw RowError{"tgt", "missing (need \"tgt\" or \"tgt_chosen\"/\"tgt_rejected\")"};
                }
            } else if (row.contains("messages")) {
                if (want_pair) throw RowError{"messages", "a messages row has no preference pair"};
                auto msgs = messages_of(row["messages"], "messages");
                if (msgs.size() < 2 || msgs.back().role != "assistant")
                    throw RowError{"messages", "needs a prompt and a final assistant message"};
                std::vector<ChatMessage> prompt(msgs.begin(), msgs.end() - 1);
                auto [src, tgt] = b.render(prompt, {msgs.back()});
                ex.prompt = b.prompt_tokens(src);
                ex.chosen = b.target_tokens(src, ex.prompt, tgt, false);
            } else if (row.contains("prompt")) {
                const json &pr = row["prompt"];
                const bool conversational = pr.is_array();
                auto target = [&](const char *field, std::vector<int32_t> &dst) {
                    if (!row.contains(field)) throw RowError{field, "missing"};
                    if (conversational) {
                        auto [src, tgt] = b.render(messages_of(pr, "prompt"), messages_of(row[field], field));
                        if (ex.prompt.empty()) ex.prompt = b.prompt_tokens(src);
                        dst = b.target_tokens(src, ex.prompt, tgt, false);
                    } else {
                        if (!pr.is_string()) throw RowError{"prompt", "must be a string or an array of messages"};
                        const std::string src = pr.get<std::string>();
                        if (ex.prompt.empty()) ex.prompt = b.prompt_tokens(src);
                        dst = b.target_tokens(src, ex.prompt, text_of(row[field], field), true);
                    }
                };
                if (want_pair) {
                    target("chosen", ex.chosen);
                    target("rejected", ex.rejected);
                } else {
                    target(row.contains("completion") ? "completion" : "chosen", ex.chosen);
                }
            } else {
                throw RowError{"", "unknown row format (expected src/tgt*, prompt/chosen/rejected or messages)"};
            }
            if (ex.prompt.empty()) {
                if (tok.bos() < 0) throw RowError{"src", "empty prompt and the vocabulary has no BOS"};
                ex.prompt.push_back(tok.bos());
            }
            if (ex.chosen.empty() || (want_pair && ex.rejected.empty())) throw RowError{"", "empty target"};
        } catch (const RowError &e) {
            throw Error(PARLEY_ERR_PARSE, path + ":" + std::to_string(lineno) + ": " +
                                              (e.field.empty() ? "" : "field '" + e.field + "': ") + e.what);
        }
        if (truncate_example(ex, max_seq_len, tok.bos())) ++st.truncated;
        st.prompt_tokens += ex.prompt.size();
        st.target_tokens += ex.chosen.size() + ex.rejected.size();
        out.push_back(std::move(ex));
    }
    st.rows = out.size();
    if (out.empty()) throw Error(PARLEY_ERR_PARSE, "'" + path + "' holds no training rows");
    if (stats) *stats = st;
    return out;
}

} // namespace parley::training
