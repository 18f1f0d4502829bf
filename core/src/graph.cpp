#include <parley/core/graph.hpp>

#include "chat_template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <set>

namespace parley::core {
namespace {

const std::set<std::string> kGraphKeys = {"name", "description", "output_dir", "plugin_path", "log_level", "shard"};
const std::set<std::string> kReservedNodeKeys = {"use", "inputs", "enabled"};

struct Locator {
    std::string file;
    std::set<std::string> overridden; // dotted keys set on the command line

    std::string at(const toml::node *n, const std::string &dotted) const {
        if (overridden.count(dotted)) return fmt::format("command line: {}", dotted);
        if (n && n->source().begin.line > 0)
            return fmt::format("{}:{}:{}: {}", file, n->source().begin.line, n->source().begin.column, dotted);
        return fmt::format("{}: {}", file, dotted);
    }
    // Points at the key itself (where a user looks for a typo) rather than at its value.
    std::string at_key(const toml::table *t, const std::string &key, const std::string &dotted) const {
        if (overridden.count(dotted)) return fmt::format("command line: {}", dotted);
        if (t)
            for (auto &&[k, v] : *t)
                if (k.str() == key && k.source().begin.line > 0)
                    return fmt::format("{}:{}:{}: {}", file, k.source().begin.line, k.source().begin.column, dotted);
        return at(t ? t->get(key) : nullptr, dotted);
    }
};

std::string expand_env(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
            size_t close = s.find('}', i + 2);
            if (close != std::string::npos) {
                std::string expr = s.substr(i + 2, close - i - 2);
                std::string var = expr, fallback;
                bool has_fallback = false;
                if (auto d = expr.find(":-"); d != std::string::npos) {
                    var = expr.substr(0, d);
                    fallback = expr.substr(d + 2);
                    has_fallback = true;
                }
                const char *v = std::getenv(var.c_str());
                out += (v && *v) ? std::string(v) : (has_fallback ? fallback : std::string());
                i = close + 1;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

void expand_all(toml::node &n) {
    if (auto *t = n.as_table()) {
        for (auto &&[k, v] : *t) expand_all(v);
    } else if (auto *a = n.as_array()) {
        for (auto &v : *a) expand_all(v);
    } else if (auto *s = n.as_string()) {
        if (s->get().find("${") != std::string::npos) *s = expand_env(s->get());
    }
}

// "nodes.model.model=/x" -> sets document["nodes"]["model"]["model"].
void apply_override(toml::table &doc, const std::string &text, Locator &loc) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw GraphError({fmt::format("command line: '{}': an override is key=value (e.g. nodes.model.model=/path/to.gguf)", text)});
    std::string key = text.substr(0, eq), raw = text.substr(eq + 1);
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        size_t dot = key.find('.', start);
        parts.push_back(key.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (parts.size() < 2 || (parts[0] != "graph" && parts[0] != "nodes") || (parts[0] == "nodes" && parts.size() < 3))
        throw GraphError({fmt::format("command line: '{}': override keys look like graph.<key> or nodes.<node>.<key>", key)});
    if (parts[0] == "nodes" && !doc.contains("nodes")) doc.insert("nodes", toml::table{});
    toml::table *t = &doc;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        toml::node *n = t->get(parts[i]);
        if (!n) {
            if (i == 1 && parts[0] == "nodes")
                throw GraphError({fmt::format("command line: '{}': there is no node '{}'", key, parts[1])});
            t->insert(parts[i], toml::table{});
            n = t->get(parts[i]);
        }
        t = n->as_table();
        if (!t) throw GraphError({fmt::format("command line: '{}': '{}' is not a table", key, parts[i])});
    }
    // The value is TOML if it parses as one (numbers, booleans, arrays, quoted strings), else text.
    toml::node_view<toml::node> parsed;
    toml::table holder;
    try {
        holder = toml::parse("v = " + raw);
        t->insert_or_assign(parts.back(), *holder.get("v"));
    } catch (const toml::parse_error &) {
        t->insert_or_assign(parts.back(), raw);
    }
    loc.overridden.insert(key);
}

std::vector<fs::path> string_paths(const toml::node *n, const fs::path &base) {
    std::vector<fs::path> out;
    auto add = [&](const std::string &s) {
        fs::path p(s);
        out.push_back(p.is_absolute() ? p : base / p);
    };
    if (!n) return out;
    if (auto *s = n->as_string()) add(s->get());
    if (auto *a = n->as_array())
        for (auto &v : *a)
            if (auto *s = v.as_string()) add(s->get());
    return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggestion(std::string_view word, const std::vector<std::string> &candidates) {
    auto m = did_you_mean(word, candidates);
    return m ? fmt::format(" (did you mean '{}'?)", *m) : std::string();
}

bool type_matches(const toml::node &v, int32_t type) {
    switch (type) {
    case PARLEY_TYPE_STRING:
    case PARLEY_TYPE_PATH: return v.is_string();
    case PARLEY_TYPE_INT: return v.is_integer();
    case PARLEY_TYPE_FLOAT: return v.is_floating_point() || v.is_integer();
    case PARLEY_TYPE_BOOL: return v.is_boolean();
    case PARLEY_TYPE_STRING_ARRAY: {
        auto *a = v.as_array();
        return a && std::all_of(a->begin(), a->end(), [](auto &e) { return e.is_string(); });
    }
    case PARLEY_TYPE_ANY: return true;
    default: return false;
    }
}

std::string quoted_list(const std::vector<std::string> &values) {
    std::string out;
    for (auto &v : values) out += (out.empty() ? "\"" : ", \"") + v + "\"";
    return out;
}

// A value of the right type against its spec's choices and range; empty when it fits.
std::string spec_problem(const toml::node &v, const ParamSpec &p) {
    auto not_a_choice = [&](const std::string &s) -> std::string {
        if (p.choices.empty() || std::find(p.choices.begin(), p.choices.end(), s) != p.choices.end()) return {};
        auto m = did_you_mean(s, p.choices);
        return fmt::format("\"{}\" is not one of {}{}", s, quoted_list(p.choices), m ? fmt::format(" (did you mean \"{}\"?)", *m) : "");
    };
    if (auto *s = v.as_string()) return not_a_choice(s->get());
    if (auto *a = v.as_array()) {
        for (size_t i = 0; i < a->size(); ++i)
            if (auto *e = a->get(i)->as_string())
                if (auto why = not_a_choice(e->get()); !why.empty()) return fmt::format("element {}: {}", i, why);
        return {};
    }
    if (!v.is_number() || (!p.min && !p.max)) return {};
    const double d = v.is_integer() ? static_cast<double>(v.as_integer()->get()) : v.as_floating_point()->get();
    std::string shown;
    if (v.is_integer()) shown = std::to_string(v.as_integer()->get());
    else shown = fmt::format("{}", d);
    if ((p.min && !(d >= *p.min)) || (p.max && !(d <= *p.max))) return fmt::format("{} is out of range {}", shown, p.range_text());
    return {};
}

} // namespace

GraphError::GraphError(std::vector<std::string> problems)
    : std::runtime_error([&] {
          std::string s;
          for (auto &p : problems) s += (s.empty() ? "" : "\n") + p;
          return s;
      }()),
      problems_(std::move(problems)) {}

std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string> &candidates) {
    std::optional<std::string> best;
    size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char &ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return out;
    };
    const std::string w = lower(word); // "LLM" means "llm": case costs nothing
    for (auto &c : candidates) {
        size_t d = edit_distance(w, lower(c));
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

const NodeSpec *Graph::find(std::string_view node) const {
    for (auto &n : nodes)
        if (n.name == node) return &n;
    return nullptr;
}
NodeSpec *Graph::find(std::string_view node) {
    for (auto &n : nodes)
        if (n.name == node) return &n;
    return nullptr;
}

Graph parse_graph(const fs::path &file, const std::vector<std::string> &overrides) {
    Graph g;
    std::error_code ec;
    g.file = fs::absolute(file, ec);
    Locator loc{file.string(), {}};
    if (!fs::exists(g.file)) throw GraphError({fmt::format("{}: no such graph file", file.string())});
    toml::table doc;
    try {
        doc = toml::parse_file(g.file.string());
    } catch (const toml::parse_error &e) {
        throw GraphError({fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line, e.source().begin.column,
                                      e.description())});
    }
    for (auto &o : overrides) apply_override(doc, o, loc);
    expand_all(doc);

    std::vector<std::string> problems;
    const fs::path base = g.file.parent_path();
    for (auto &&[k, v] : doc) {
        std::string key(k.str());
        if (key != "graph" && key != "nodes")
            problems.push_back(fmt::format("{}: unknown top-level table{}", loc.at(&v, key),
                                           suggestion(key, {"graph", "nodes"})));
    }
    if (auto *gt = doc.get("graph")) {
        if (!gt->is_table()) problems.push_back(fmt::format("{}: must be a table", loc.at(gt, "graph")));
        else
            for (auto &&[k, v] : *gt->as_table()) {
                std::string key(k.str());
                if (!kGraphKeys.count(key))
                    problems.push_back(fmt::format("{}: unknown key{}", loc.at_key(gt->as_table(), key, "graph." + key),
                                                   suggestion(key, {kGraphKeys.begin(), kGraphKeys.end()})));
            }
    }
    g.name = doc["graph"]["name"].value_or(g.file.stem().string());
    g.log_level = doc["graph"]["log_level"].value_or(std::string());
    g.shard = doc["graph"]["shard"].value_or(std::string());
    std::string out = doc["graph"]["output_dir"].value_or("runs/" + g.name);
    // Outputs are relative to the working directory (as any CLI's), inputs to the graph file.
    g.output_dir = fs::absolute(fs::path(out), ec);
    g.plugin_path = string_paths(doc["graph"]["plugin_path"].node(), base);

    auto *nodes = doc["nodes"].as_table();
    if (!nodes || nodes->empty()) problems.push_back(fmt::format("{}: a graph needs at least one [nodes.<name>] table", file.string()));
    if (nodes) {
        for (auto &&[k, v] : *nodes) {
            NodeSpec n;
            n.name = std::string(k.str());
            std::string where = "nodes." + n.name;
            auto *t = v.as_table();
            if (!t) {
                problems.push_back(fmt::format("{}: must be a table", loc.at(&v, where)));
                continue;
            }
            auto *use = t->get("use");
            if (!use || !use->is_string()) {
                problems.push_back(fmt::format("{}: missing `use = \"<plugin>/<component>\"`", loc.at(&v, where)));
                continue;
            }
            n.use = use->as_string()->get();
            std::string u = n.use;
            if (auto at = u.find('@'); at != std::string::npos) {
                try {
                    n.pinned_version = static_cast<uint32_t>(std::stoul(u.substr(at + 1)));
                } catch (...) {
                    problems.push_back(fmt::format("{}: version pin must be a number", loc.at(use, where + ".use")));
                }
                u = u.substr(0, at);
            }
            auto slash = u.find('/');
            if (slash == std::string::npos || slash == 0 || slash + 1 == u.size()) {
                problems.push_back(fmt::format("{}: '{}' is not <plugin>/<component>", loc.at(use, where + ".use"), n.use));
                continue;
            }
            n.plugin = u.substr(0, slash);
            n.component = u.substr(slash + 1);
            n.enabled = (*t)["enabled"].value_or(true);
            if (auto *in = t->get("inputs")) {
                auto *it = in->as_table();
                if (!it) problems.push_back(fmt::format("{}: must be a table of port = node", loc.at(in, where + ".inputs")));
                else
                    for (auto &&[pk, pv] : *it) {
                        std::vector<std::string> targets;
                        if (auto *s = pv.as_string()) targets.push_back(s->get());
                        else if (auto *a = pv.as_array())
                            for (auto &e : *a)
                                if (auto *s2 = e.as_string()) targets.push_back(s2->get());
                        if (targets.empty())
                            problems.push_back(fmt::format("{}: expects a node name or a list of node names",
                                                           loc.at(&pv, where + ".inputs." + std::string(pk.str()))));
                        n.inputs[std::string(pk.str())] = targets;
                    }
            }
            for (auto &&[ck, cv] : *t)
                if (!kReservedNodeKeys.count(std::string(ck.str()))) n.config.insert(ck, cv);
            // toml::table::insert copies values without their source regions; keep a pointer
            // table for error locations via the document instead.
            g.nodes.push_back(std::move(n));
        }
    }
    g.document = std::move(doc);
    g.display_file = file.string();
    g.overridden = loc.overridden;
    if (!problems.empty()) throw GraphError(problems);
    return g;
}

namespace {
// `chat_template` (core/pairs and backends): a file named relative to the graph is found beside
// it; a core/pairs node that cannot render `src` fails here, before any generation starts.
void check_chat_template(const Graph &g, NodeSpec &n, const Locator &loc, const fs::path &base, std::vector<std::string> &problems) {
    const std::string where = "nodes." + n.name + ".chat_template";
    const toml::table *src = g.document["nodes"][n.name].as_table();
    // The key where it is set, else the node's table (the default applies).
    auto at = [&] { return src && src->contains("chat_template") ? loc.at_key(src, "chat_template", where) : loc.at(src, where); };
    toml::node *v = n.config.get("chat_template");
    if (v && v->is_string() && !chat::Template::is_inline(v->as_string()->get())) {
        fs::path path(v->as_string()->get());
        std::error_code ec; // a name the file system refuses (too long, ...) is not a file here: no throw (fuzz/)
        if (path.is_relative() && fs::exists(base / path, ec)) *v->as_string() = (base / path).lexically_normal().string();
    }
    if (n.plugin != "core" || n.component != "pairs") return;
    const std::string value = v && v->is_string() ? v->as_string()->get() : "backend";
    if (value == "none") return;
    if (value != "backend") {
        try {
            (void)chat::Template::from_option(value, "");
        } catch (const std::exception &e) {
            problems.push_back(fmt::format("{}: {}", at(), e.what()));
        }
        return;
    }
    const char *which = src && src->contains("chat_template") ? "\"backend\"" : "\"backend\" (the default)";
    const char *options = "set chat_template to the model's tokenizer_config.json or .jinja file, \"chatml\", "
                          "or \"none\" (TRL rows only)";
    auto in = n.inputs.find("backend");
    if (in == n.inputs.end() || in->second.empty()) {
        problems.push_back(fmt::format("{}: {} needs a `backend` input; or {}", at(), which, options));
        return;
    }
    const NodeSpec *b = g.find(in->second.front());
    const ParamSpec *p = b && b->schema ? b->schema->param("chat_template") : nullptr;
    if (!p) return; // a backend without the option renders or not: only the run can tell
    const toml::node *bv = b->config.get("chat_template");
    if (!(bv && bv->is_string() ? bv->as_string()->get() : p->shown_default()).empty()) return;
    problems.push_back(fmt::format("{}: {} renders with the backend's chat template, but '{}' ({}) has none: set "
                                   "nodes.{}.chat_template to the served model's tokenizer_config.json or .jinja file; or {}",
                                   at(), which, b->name, b->use, b->name, options));
}

} // namespace

void validate_graph(Graph &g, const SchemaResolver &resolve) {
    std::vector<std::string> problems;
    Locator loc{g.display_file.empty() ? g.file.string() : g.display_file, g.overridden};
    const fs::path base = g.file.parent_path();
    std::vector<std::string> node_names;
    for (auto &n : g.nodes) node_names.push_back(n.name);

    for (auto &n : g.nodes) {
        std::string where = "nodes." + n.name;
        const toml::table *src = g.document["nodes"][n.name].as_table();
        auto src_node = [&](const std::string &key) -> const toml::node * { return src ? src->get(key) : nullptr; };
        std::string why;
        const ComponentSchema *schema = resolve(n.plugin, n.component, &why);
        if (!schema) {
            problems.push_back(fmt::format("{}: {}", loc.at(src_node("use"), where + ".use"), why));
            continue;
        }
        n.schema = schema;
        if (n.pinned_version && *n.pinned_version != schema->version)
            problems.push_back(fmt::format("{}: '{}' pins version {}, but the installed component is version {}",
                                           loc.at(src_node("use"), where + ".use"), n.use, *n.pinned_version, schema->version));
        std::vector<std::string> known;
        for (auto &p : schema->params) known.push_back(p.key);
        for (auto &k : {"use", "inputs", "enabled"}) known.push_back(k);
        for (auto &&[k, v] : n.config) {
            std::string key(k.str());
            const ParamSpec *p = schema->param(key);
            if (!p) {
                problems.push_back(fmt::format("{}: unknown key for {}{}", loc.at_key(src, key, where + "." + key),
                                               schema->id(), suggestion(key, known)));
                continue;
            }
            if (!type_matches(v, p->type)) {
                problems.push_back(fmt::format("{}: expected {}", loc.at_key(src, key, where + "." + key), type_name(p->type)));
                continue;
            }
            if (std::string why = spec_problem(v, *p); !why.empty()) { // at the value: what is wrong is there
                problems.push_back(fmt::format("{}: {}", loc.at(src_node(key), where + "." + key), why));
                continue;
            }
            if (p->type == PARLEY_TYPE_PATH) {
                fs::path path(v.as_string()->get());
                if (!path.is_absolute()) path = (base / path).lexically_normal();
                *v.as_string() = path.string();
                std::error_code ec; // a name the file system refuses is reported as missing, not thrown (fuzz/)
                if ((p->flags & PARLEY_PARAM_MUST_EXIST) && !fs::exists(path, ec) && !((key == "model" || key == "lora") && n.inputs.count("model")))
                    problems.push_back(fmt::format("{}: file not found: {} (set it in the graph or on the command line: "
                                                   "{}.{}=PATH)",
                                                   loc.at_key(src, key, where + "." + key), path.string(), where, key));
            }
        }
        for (auto &p : schema->params)
            if ((p.flags & PARLEY_PARAM_REQUIRED) && !n.config.contains(p.key) && !(p.key == "model" && n.inputs.count("model")))
                problems.push_back(fmt::format("{}: missing required key '{}' ({}) — add it, or pass {}.{}=VALUE",
                                               loc.at(src, where), p.key, p.doc, where, p.key));
        // Inputs.
        std::vector<std::string> port_names;
        for (auto &p : schema->inputs) port_names.push_back(p.name);
        for (auto &[port, targets] : n.inputs) {
            const PortSpec *ps = schema->port(port);
            const toml::node *inputs_node = src_node("inputs");
            const toml::node *pn = inputs_node && inputs_node->as_table() ? inputs_node->as_table()->get(port) : nullptr;
            if (!ps) {
                problems.push_back(fmt::format("{}: {} has no input '{}'{}", loc.at(pn, where + ".inputs." + port),
                                               schema->id(), port, suggestion(port, port_names)));
                continue;
            }
            if (!ps->multiple && targets.size() > 1)
                problems.push_back(fmt::format("{}: takes one node", loc.at(pn, where + ".inputs." + port)));
            for (auto &full : targets) {
                const std::string t = full.substr(0, full.find('.')); // "node" or "node.output"
                const NodeSpec *target = g.find(t);
                if (!target) {
                    problems.push_back(fmt::format("{}: no node named '{}'{}", loc.at(pn, where + ".inputs." + port), t,
                                                   suggestion(t, node_names)));
                    continue;
                }
                if (target == &n) problems.push_back(fmt::format("{}: a node cannot feed itself", loc.at(pn, where + ".inputs." + port)));
            }
        }
        if (schema->kind != kKindCore && !n.inputs.empty() && schema->inputs.empty())
            problems.push_back(fmt::format("{}: {} takes no inputs", loc.at(src_node("inputs"), where + ".inputs"), schema->id()));
        for (auto &p : schema->inputs)
            if (p.required && !n.inputs.count(p.name))
                problems.push_back(fmt::format("{}: missing input '{}' ({})", loc.at(src, where + ".inputs"), p.name, p.doc));
    }
    // Kinds of connected nodes (needs every schema resolved first).
    for (auto &n : g.nodes) {
        if (!n.schema) continue;
        for (auto &[port, targets] : n.inputs) {
            const PortSpec *ps = n.schema->port(port);
            if (!ps) continue;
            for (auto &full : targets) {
                const std::string t = full.substr(0, full.find('.'));
                const std::string output = full.find('.') == std::string::npos ? "" : full.substr(full.find('.') + 1);
                const NodeSpec *target = g.find(t);
                if (!target || !target->schema) continue;
                if (ps->kind == kKindRows) {
                    const auto &outs = target->schema->outputs;
                    if (outs.empty())
                        problems.push_back(fmt::format("{}: input '{}' needs rows, but '{}' ({}) writes none",
                                                       loc.at(nullptr, "nodes." + n.name + ".inputs." + port), port, t, target->use));
                    else if (!output.empty() && std::find(outs.begin(), outs.end(), output) == outs.end())
                        problems.push_back(fmt::format("{}: '{}' has no output '{}'{}", loc.at(nullptr, "nodes." + n.name + ".inputs." + port),
                                                       t, output, suggestion(output, outs)));
                    continue;
                }
                if (!output.empty())
                    problems.push_back(fmt::format("{}: '{}' names a node, not an output", loc.at(nullptr, "nodes." + n.name + ".inputs." + port), full));
                if (target->schema->kind != ps->kind)
                    problems.push_back(fmt::format("{}: input '{}' needs a {} node, but '{}' is a {} ({})",
                                                   loc.at(nullptr, "nodes." + n.name + ".inputs." + port), port,
                                                   kind_name(ps->kind), t, kind_name(target->schema->kind), target->use));
            }
        }
    }
    for (auto &n : g.nodes)
        if (n.schema) check_chat_template(g, n, loc, base, problems);
    for (auto &n : g.nodes) {
        if (!n.schema || !n.schema->reads_nodes) continue;
        const toml::table *src = g.document["nodes"][n.name].as_table();
        for (auto &[key, target] : n.schema->reads_nodes(n)) {
            const std::string where = fmt::format("nodes.{}.{}", n.name, key);
            if (target == n.name) problems.push_back(fmt::format("{}: a node cannot read itself", loc.at_key(src, key, where)));
            else if (!g.find(target))
                problems.push_back(fmt::format("{}: no node named '{}'{}", loc.at_key(src, key, where), target, suggestion(target, node_names)));
        }
    }
    if (problems.empty()) {
        try {
            (void)topological_order(g);
        } catch (const GraphError &e) {
            problems = e.problems();
        }
    }
    if (!problems.empty()) throw GraphError(problems);
}

toml::table with_defaults(const NodeSpec &node) { return node.schema ? with_defaults(node.config, *node.schema) : node.config; }

toml::table with_defaults(const toml::table &config, const ComponentSchema &schema) {
    toml::table out = config;
    for (const ParamSpec &p : schema.params) {
        if (!p.value || out.contains(p.key)) continue;
        std::visit([&](const auto &v) { out.insert(p.key, v); }, *p.value);
    }
    return out;
}

std::vector<std::string> bound_strings(const toml::table &config, const char *key) {
    std::vector<std::string> out;
    if (auto *a = config[key].as_array())
        for (auto &x : *a) out.push_back(x.value_or(std::string()));
    return out;
}

std::vector<const NodeSpec *> topological_order(const Graph &g) {
    std::vector<const NodeSpec *> order;
    std::map<std::string, int> state; // 0 new, 1 visiting, 2 done
    std::function<void(const NodeSpec &)> visit = [&](const NodeSpec &n) {
        int &s = state[n.name];
        if (s == 2) return;
        if (s == 1) throw GraphError({fmt::format("{}: nodes.{}: the inputs form a cycle", g.file.string(), n.name)});
        s = 1;
        for (auto &[port, targets] : n.inputs)
            for (auto &t : targets)
                if (auto *target = g.find(t.substr(0, t.find('.')))) visit(*target);
        if (n.schema && n.schema->reads_nodes)
            for (auto &[key, t] : n.schema->reads_nodes(n))
                if (auto *target = g.find(t); target && target != &n) visit(*target);
        s = 2;
        order.push_back(&n);
    };
    for (auto &n : g.nodes) visit(n);
    return order;
}

} // namespace parley::core
