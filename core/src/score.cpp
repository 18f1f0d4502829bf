// `parley score`: re-score saved responses with a domain's rule-based extractor and matcher,
// without any model. Input rows {"id": ..., "response": "..."}; output rows
// {"id", "extracted", "gold", "correct"} (plus "score" and "valid"); a summary on stderr.
#include <parley/core/components.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/run.hpp>
#include <parley/core/score.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <unordered_map>

namespace parley::core {

int score_responses(const ScoreOptions &o) {
    using json = nlohmann::json;
    PluginLoader loader(plugin_search_path(o.plugin_paths, {}));
    SchemaResolver resolve = make_resolver(loader);
    std::string why;
    const ComponentSchema *schema = resolve(o.domain, "domain", &why);
    if (!schema) throw std::runtime_error(why);
    if (schema->kind != PARLEY_KIND_DOMAIN) throw std::runtime_error(fmt::format("{} is not a domain", schema->id()));

    NodeSpec node;
    node.name = o.domain;
    node.use = schema->id();
    node.plugin = schema->plugin;
    node.component = schema->name;
    node.schema = schema;
    for (auto &&[k, v] : o.config) {
        if (!schema->param(k.str())) throw std::runtime_error(fmt::format("{} has no parameter '{}'", schema->id(), k.str()));
        node.config.insert_or_assign(k, v);
    }
    if (!o.profile.empty()) node.config.insert_or_assign("profile", o.profile);
    auto domain = Domain::create(node);
    auto [n_items, skipped] = domain->load(o.data.string(), false);
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < n_items; ++i) index.emplace(domain->item(i).id, i);

    std::ifstream in(o.responses);
    if (!in) throw std::runtime_error(fmt::format("cannot open {}", o.responses.string()));
    std::ofstream out_file;
    std::ostream *out = &std::cout;
    if (!o.out.empty()) {
        out_file.open(o.out, std::ios::trunc);
        if (!out_file) throw std::runtime_error(fmt::format("cannot write {}", o.out.string()));
        out = &out_file;
    }
    size_t line_no = 0, scored = 0, correct = 0, valid_count = 0;
    std::vector<std::string> unknown;
    std::string line;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json row;
        try {
            row = json::parse(line);
        } catch (const json::exception &e) {
            throw std::runtime_error(fmt::format("{}:{}: not a JSON object ({})", o.responses.string(), line_no, e.what()));
        }
        if (!row.is_object() || !row.contains("id"))
            throw std::runtime_error(fmt::format("{}:{}: field 'id' is missing", o.responses.string(), line_no));
        if (!row.contains("response") || !row["response"].is_string())
            throw std::runtime_error(fmt::format("{}:{}: field 'response' is missing or not a string", o.responses.string(), line_no));
        std::string id = row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump();
        auto it = index.find(id);
        if (it == index.end()) {
            unknown.push_back(id);
            logger().warn("{}:{}: unknown id {} (not in {})", o.responses.string(), line_no, id, o.data.string());
            continue;
        }
        auto [belief, valid] = domain->extract(it->second, PARLEY_EXTRACT_RULE, row["response"].get<std::string>());
        double s = domain->score(it->second, belief);
        ItemInfo item = domain->item(it->second);
        json o_row = {{"id", row["id"]}, {"extracted", belief}, {"gold", item.gold}, {"correct", s >= 1.0}, {"score", s}, {"valid", valid}};
        *out << o_row.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        ++scored;
        correct += s >= 1.0;
        valid_count += valid;
    }
    out->flush();
    std::cerr << fmt::format("{}: scored {} responses ({} profile): accuracy {:.4f} ({} correct), valid answers {:.4f}; "
                             "{} unknown id(s)\n",
                             o.domain, scored, o.profile.empty() ? "default" : o.profile,
                             scored ? double(correct) / scored : 0.0, correct, scored ? double(valid_count) / scored : 0.0,
                             unknown.size());
    return unknown.empty() ? 0 : 3;
}

} // namespace parley::core
