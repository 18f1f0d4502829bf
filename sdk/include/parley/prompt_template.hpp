// parley/prompt_template.hpp — a domain's prompts as data: templates with named placeholders and
// Coral's text (byte for byte) as the defaults. Dependency-free; sdk.hpp includes it. Per-node
// overrides (`prompts.<key>` in TOML, `prompts_file`) are read by parley/prompts.hpp.
//
// Keys (one per text kind of plugin.h): task, task_teacher_first, system (the collaboration's
// system prompt), system_cot, extractor_system, extractor; and two values substituted verbatim,
// task_name and task_specific_inst. A placeholder is {name} with name in [a-z_][a-z0-9_]*; it must
// be one the domain offers (e.g. {question}, {options}; {response} in `extractor`; {task_name} and
// {task_specific_inst} everywhere), else the node fails at creation naming the key and the known
// names. "{{" writes a literal "{"; every other brace is literal ("$\boxed{}$", "\sqrt{3}").
// Substitution is one pass: text coming from an item is never scanned for placeholders.
//
// The extractor prompt is assembled as Coral does: written over its system prompt with
// StringIO(system).write(prompt) (a shorter prompt keeps the system prompt's tail).
#pragma once

#include <parley/common/pytext.hpp>
#include <parley/error.hpp>
#include <parley/plugin.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley {

// Coral's prompt library (collaborative-reasoner utils/prompt_library.json), as templates.
namespace coral {
inline constexpr const char *kAssistantSbsShort =
    "You are working with a user to solve some {task_name} problems.\n\nHere is how you should proceed:\n"
    "* Starting on the problem and try to give a full solution;\n"
    "* When the user proposes a solution, look carefully at each of the step, and be precise and direct when you notice any mistake;\n"
    "* When the user raises a concern, first think about if you have actually made a mistake. Correct your mistake if you think you've made one, but stand your ground if you think it's actually correct;\n"
    "* Always stay on topic and work towards a solution to the original problem;\n"
    "* Be direct and concise during the whole communication;\n* {task_specific_inst}";
inline constexpr const char *kAssistantSbs =
    "You are working with an advanced user to solve some complex {task_name} problems.\n\nHere is how you should proceed:\n"
    "* Starting on the problem, first lay out a plan and ask for confirmation on the plan;\n"
    "* When the user proposes a plan, an actual solution, or a partial solution, look carefully at each of the step, and ask clarification questions if you are unsure about the correctness of a certain step;\n"
    "* When you notice an error, be precise and direct, over-politenss will not help anyone;\n"
    "* When the user asks you questions about your solution, try to unravel certain steps and explain how they work, correct your mistake if you think you've made one, but stand your ground if you think it's actually correct;\n"
    "* Always stay on topic and work towards a solution to the original problem;\n* {task_specific_inst}";
inline constexpr const char *kSimpleCot =
    "You are an helpful assistant that help the user solve complex {task_name} problems. Think about the problem "
    "step-by-step, and then provides the user with the answer. {task_specific_inst}";
// The belief extractor's system prompt (307 characters, ending in a newline).
inline constexpr const char *kExtractorSystem =
    "You are an assistant that is helping an user to identify the intention of certain responses in a "
    "conversation. More specifically, you will help extracting which answer the response is submiting as "
    "the final answer, or say \"not sure yet\" if it seems like there is no explict answer included in the "
    "response.\n";
// The generic task messages and extractor prompt (a domain whose item is one question).
inline constexpr const char *kTask = "I'm trying to solve this problem: \"{question}\"";
inline constexpr const char *kTaskTeacherFirst = "I would like you to try and solve this problem: \"{question}\"";
inline constexpr const char *kExtractor = "**This is the original question:**\n{question}\n\n"
                                          "**This is the response you need to extract answer from:**\n\n{response}\n\n"
                                          "**Extract the final answer, or say \"not sure yet\".**";
} // namespace coral

// A template: text with {name} placeholders (see the top of this file).
class Template {
  public:
    using Vars = std::vector<std::pair<std::string_view, std::string_view>>;

    Template() = default;
    explicit Template(std::string text) : text_(std::move(text)) {}
    const std::string &text() const { return text_; }

    // Calls fn(name) for each placeholder, in order.
    template <class Fn> void each_placeholder(Fn &&fn) const {
        scan([&](std::string_view name) { fn(name); }, [](std::string_view) {});
    }
    // The text with each placeholder replaced by its value; an unknown name throws.
    std::string render(const Vars &vars) const {
        std::string out;
        scan(
            [&](std::string_view name) {
                for (auto &[k, v] : vars)
                    if (k == name) {
                        out += v;
                        return;
                    }
                throw Error(PARLEY_ERR_INVALID_ARGUMENT, "prompt placeholder {" + std::string(name) + "} has no value");
            },
            [&](std::string_view literal) { out += literal; });
        return out;
    }

  private:
    static bool ident_start(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
    static bool ident(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
    template <class OnName, class OnLiteral> void scan(OnName &&on_name, OnLiteral &&on_literal) const {
        std::string_view t = text_;
        size_t from = 0;
        for (size_t i = t.find('{'); i != std::string_view::npos; i = t.find('{', i)) {
            if (i + 1 < t.size() && t[i + 1] == '{') { // "{{" -> "{"
                on_literal(t.substr(from, i + 1 - from));
                from = i = i + 2;
                continue;
            }
            size_t j = i + 1;
            if (j < t.size() && ident_start(t[j])) {
                while (j < t.size() && ident(t[j])) ++j;
                if (j < t.size() && t[j] == '}') {
                    on_literal(t.substr(from, i - from));
                    on_name(t.substr(i + 1, j - i - 1));
                    from = i = j + 1;
                    continue;
                }
            }
            ++i;
        }
        on_literal(t.substr(from));
    }
    std::string text_;
};

// The six prompts of a domain, with its defaults and any per-node overrides applied.
class Prompts {
  public:
    struct Kind {
        int text_kind; // PARLEY_TEXT_*
        const char *key;
    };
    static constexpr std::array<Kind, 6> kKinds{{{PARLEY_TEXT_TASK, "task"},
                                                 {PARLEY_TEXT_TASK_TEACHER_FIRST, "task_teacher_first"},
                                                 {PARLEY_TEXT_SYSTEM_COLLABORATE, "system"},
                                                 {PARLEY_TEXT_SYSTEM_COT, "system_cot"},
                                                 {PARLEY_TEXT_EXTRACTOR_SYSTEM, "extractor_system"},
                                                 {PARLEY_TEXT_EXTRACTOR_PROMPT, "extractor"}}};

    // A domain's compiled-in defaults. An empty optional is a text the domain refuses (unless a
    // node supplies it): render() then throws PARLEY_ERR_UNSUPPORTED with `refusal`.
    struct Defaults {
        std::optional<std::string> task = std::string(coral::kTask);
        std::optional<std::string> task_teacher_first = std::string(coral::kTaskTeacherFirst);
        std::optional<std::string> system = std::string(coral::kAssistantSbsShort);
        std::optional<std::string> system_cot = std::string(coral::kSimpleCot);
        std::optional<std::string> extractor_system = std::string(coral::kExtractorSystem);
        std::optional<std::string> extractor = std::string(coral::kExtractor);
        std::string task_name, task_specific_inst;
        std::string refusal; // why a missing text is refused, e.g. "no teacher-first task message"
    };

    Prompts() = default;
    // `item_vars`: the placeholders the domain fills per item (besides task_name,
    // task_specific_inst, and response in the extractor prompt).
    Prompts(Defaults d, std::vector<std::string> item_vars) : item_vars_(std::move(item_vars)), refusal_(std::move(d.refusal)) {
        texts_ = {std::move(d.task), std::move(d.task_teacher_first), std::move(d.system),
                  std::move(d.system_cot), std::move(d.extractor_system), std::move(d.extractor)};
        task_name_ = std::move(d.task_name);
        task_inst_ = std::move(d.task_specific_inst);
    }

    bool has(int text_kind) const { return slot(text_kind) && *slot(text_kind); }
    const std::string &task_name() const { return task_name_; }
    const std::string &task_specific_inst() const { return task_inst_; }
    const std::vector<std::string> &item_vars() const { return item_vars_; }

    // Renders `text_kind` with the item's values; `input` is the turn the extractor reads.
    std::string render(int text_kind, const Template::Vars &item, std::string_view input = {}) const {
        const auto *t = slot(text_kind);
        if (!t) throw Error(PARLEY_ERR_UNSUPPORTED, "unknown text kind " + std::to_string(text_kind));
        if (!*t) throw Error(PARLEY_ERR_UNSUPPORTED, refusal_.empty() ? std::string("this domain has no '") + key_of(text_kind) + "' prompt" : refusal_);
        Template::Vars vars = item;
        vars.emplace_back("task_name", task_name_);
        vars.emplace_back("task_specific_inst", task_inst_);
        if (text_kind == PARLEY_TEXT_EXTRACTOR_PROMPT) {
            vars.emplace_back("response", input);
            const std::string body = Template(**t).render(vars);
            const auto &sys = texts_[4];
            return sys ? common::stringio_overwrite(Template(*sys).render(vars), body) : body;
        }
        return Template(**t).render(vars);
    }

  private:
    const std::optional<std::string> *slot(int text_kind) const {
        for (size_t k = 0; k < kKinds.size(); ++k)
            if (kKinds[k].text_kind == text_kind) return &texts_[k];
        return nullptr;
    }
    static const char *key_of(int text_kind) {
        for (auto &k : kKinds)
            if (k.text_kind == text_kind) return k.key;
        return "?";
    }
    static std::string known_keys() {
        std::string s;
        for (auto &k : kKinds) s += std::string(k.key) + ", ";
        return s + "task_name, task_specific_inst";
    }
  public:
    // Sets one key (a prompt text, task_name or task_specific_inst); `where` names it in messages.
    void set(const std::string &key, std::string value, const std::string &where) {
        if (key == "task_name") { task_name_ = std::move(value); return; }
        if (key == "task_specific_inst") { task_inst_ = std::move(value); return; }
        for (size_t k = 0; k < kKinds.size(); ++k)
            if (key == kKinds[k].key) {
                texts_[k] = std::move(value);
                origin_[k] = where;
                return;
            }
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, where + ": unknown prompt '" + key + "' (known: " + known_keys() + ")");
    }
    // Checks every placeholder of every text against the names the domain offers.
    void check() const {
        for (size_t k = 0; k < kKinds.size(); ++k) {
            if (!texts_[k]) continue;
            const bool extractor = kKinds[k].text_kind == PARLEY_TEXT_EXTRACTOR_PROMPT;
            Template(*texts_[k]).each_placeholder([&](std::string_view name) {
                if (name == "task_name" || name == "task_specific_inst" || (extractor && name == "response")) return;
                for (auto &v : item_vars_)
                    if (v == name) return;
                std::string known;
                for (auto &v : item_vars_) known += "{" + v + "}, ";
                known += extractor ? "{response}, " : "";
                known += "{task_name}, {task_specific_inst}";
                const std::string where = origin_[k].empty() ? std::string("prompts.") + kKinds[k].key : origin_[k];
                throw Error(PARLEY_ERR_INVALID_ARGUMENT, where + ": unknown placeholder {" + std::string(name) + "} (known: " + known +
                                                             "; write {{ for a literal brace)");
            });
        }
    }

  private:
    std::array<std::optional<std::string>, 6> texts_;
    std::array<std::string, 6> origin_;
    std::vector<std::string> item_vars_;
    std::string task_name_, task_inst_, refusal_;
};

} // namespace parley
