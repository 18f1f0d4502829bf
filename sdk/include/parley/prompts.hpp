// parley/prompts.hpp — per-node prompt overrides for a domain built on parley::Prompts
// (parley/prompt_template.hpp):
//
//   [nodes.mmlu_pro]
//   use = "mmlu_pro/domain"
//   prompts.task = "Question: {question}\nOptions:\n{options}"   # inline, wins over the file
//   prompts_file = "my_prompts.toml"                              # task = "...", system = "...", ...
//
// Needs nlohmann_json (the inline table arrives as JSON) and toml++ (prompts_file).
#pragma once

#include <parley/prompt_template.hpp>
#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <string>

namespace parley {

namespace detail {
inline std::string toml_where(const std::string &path, const toml::source_region &r) {
    return path + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}
} // namespace detail

// Applies a node's `prompts_file` (TOML), then its `prompts` table (which wins), and checks every
// placeholder. Errors name the file:line:column or the key.
inline void configure_prompts(Prompts &p, const Config &cfg) {
    if (const std::string path = cfg.get("prompts_file", ""); !path.empty()) {
        toml::table t;
        try {
            t = toml::parse_file(path);
        } catch (const toml::parse_error &e) {
            throw Error(PARLEY_ERR_PARSE, detail::toml_where(path, e.source()) + ": " + std::string(e.description()));
        }
        for (auto &[k, v] : t) {
            const std::string where = detail::toml_where(path, v.source()) + ": " + std::string(k.str());
            if (!v.is_string()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, where + ": expected a string");
            p.set(std::string(k.str()), std::string(*v.value<std::string>()), where);
        }
    }
    if (cfg.has("prompts")) {
        nlohmann::json j = nlohmann::json::parse(*cfg.json("prompts"), nullptr, false);
        if (!j.is_object()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "prompts: expected a table of prompt texts");
        for (auto &[k, v] : j.items()) {
            if (!v.is_string()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "prompts." + k + ": expected a string");
            p.set(k, v.get<std::string>(), "prompts." + k);
        }
    }
    p.check();
}

// The parameters of a domain whose prompts are configurable (append to its parley_param array).
#define PARLEY_PROMPT_PARAMS                                                                                     \
    parley::param::computed("prompts", PARLEY_TYPE_ANY, nullptr,                                                 \
                            "prompt overrides: prompts.task, .task_teacher_first, .system, .system_cot, "        \
                            ".extractor_system, .extractor, .task_name, .task_specific_inst; {placeholders} are " \
                            "checked when the node is created"),                                                 \
        parley::param::path("prompts_file", PARLEY_PARAM_MUST_EXIST,                                             \
                            "a TOML file of prompt overrides (the keys of `prompts`); `prompts` wins over it")

} // namespace parley
