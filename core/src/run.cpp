#include <parley/core/host_services.hpp>
#include <parley/core/hash.hpp>
#include <parley/core/log.hpp>
#include <parley/core/records.hpp>
#include <parley/core/progress.hpp>
#include <parley/core/run.hpp>
#include <parley/core/summary_table.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

namespace parley::core {

// A filter node: every row of its inputs through the filter, kept rows to rows.jsonl.
void run_filter(RunContext &ctx) {
    auto filter = Filter::create(ctx.node);
    fs::create_directories(ctx.output_dir);
    fs::path out_path = ctx.output_dir / "rows.jsonl", tmp = out_path;
    tmp += ".tmp";
    std::ofstream out(tmp, std::ios::trunc);
    std::string kept;
    size_t rows = 0;
    for (auto &file : ctx.input_files("rows")) {
        std::ifstream in(file);
        if (!in) throw std::runtime_error(fmt::format("filter '{}': cannot read {}", ctx.node.name, file.string()));
        std::string line;
        while (std::getline(in, line)) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            kept.clear();
            filter->push(line, kept);
            out << kept;
            ++rows;
        }
    }
    kept.clear();
    filter->finish(kept);
    out << kept;
    out.close();
    fs::rename(tmp, out_path);
    std::string report = filter->report();
    nlohmann::json r = nlohmann::json::parse(report, nullptr, false);
    if (r.is_discarded()) r = {{"report", report}};
    r["rows_in"] = rows;
    write_json_atomic(ctx.output_dir / "report.json", r);
    ctx.outputs[ctx.node.name]["rows"] = {out_path};
    logger().info("[{}] {}: kept {} of {} rows; dropped {} {}", ctx.node.name, ctx.node.use, r.value("kept", 0), rows,
                  r.value("dropped", 0), r.contains("reasons") ? r["reasons"].dump() : "");
}

// A trainer node: its input rows (concatenated) to the trainer; returns its summary.
nlohmann::json run_trainer(RunContext &ctx) {
    auto trainer = Trainer::create(ctx.node);
    fs::create_directories(ctx.output_dir);
    auto files = ctx.input_files("data");
    fs::path data = files.size() == 1 ? files.front() : ctx.output_dir / "train.jsonl";
    if (files.size() != 1) {
        std::ofstream out(data, std::ios::trunc);
        for (auto &f : files) out << std::ifstream(f).rdbuf();
    }
    logger().info("[{}] training on {}", ctx.node.name, data.string());
    nlohmann::json summary = nlohmann::json::parse(trainer->train(data.string(), ctx.output_dir.string()), nullptr, false);
    if (summary.is_discarded() || !summary.contains("model"))
        throw std::runtime_error(fmt::format("trainer '{}' returned no model path in its summary", ctx.node.name));
    write_json_atomic(ctx.output_dir / "summary.json", summary);
    ctx.outputs[ctx.node.name]["model"] = {summary["model"].get<std::string>()};
    logger().info("[{}] trained model: {}", ctx.node.name, summary["model"].get<std::string>());
    return summary;
}

SchemaResolver make_resolver(PluginLoader &loader) {
    // Schemas must outlive the graph: keep them here, one per component.
    auto cache = std::make_shared<std::map<std::string, std::unique_ptr<ComponentSchema>>>();
    return [&loader, cache](const std::string &plugin, const std::string &component, std::string *why) -> const ComponentSchema * {
        if (plugin == "core") {
            if (const CoreNode *n = find_core_node(component)) return &n->schema;
            std::vector<std::string> names;
            for (const CoreNode *n : core_nodes()) names.push_back(n->schema.name);
            auto m = did_you_mean(component, names);
            *why = fmt::format("core has no node '{}'{}", component, m ? fmt::format(" (did you mean 'core/{}'?)", *m) : "");
            return nullptr;
        }
        std::string id = plugin + "/" + component;
        if (auto it = cache->find(id); it != cache->end()) return it->second.get();
        const LoadedPlugin *p = loader.load(plugin);
        if (!p) {
            if (auto reason = loader.rejection_for(plugin)) {
                *why = fmt::format("plugin '{}' could not be loaded: {}", plugin, *reason);
            } else {
                std::vector<std::string> names;
                for (auto &[n, path] : loader.discover()) names.push_back(n);
                auto m = did_you_mean(plugin, names);
                std::string dirs;
                for (auto &d : loader.search_path()) dirs += (dirs.empty() ? "" : ", ") + d.string();
                *why = fmt::format("no plugin '{}'{} (looked for libparley-{}.so in: {})", plugin,
                                   m ? fmt::format(" (did you mean '{}'?)", *m) : "", plugin, dirs);
            }
            return nullptr;
        }
        const parley_component *c = p->find(component);
        if (!c) {
            std::vector<std::string> names;
            for (auto *x : p->components) names.push_back(x->name);
            auto m = did_you_mean(component, names);
            *why = fmt::format("plugin '{}' has no component '{}'{}", plugin, component,
                               m ? fmt::format(" (did you mean '{}/{}'?)", plugin, *m) : "");
            return nullptr;
        }
        auto s = std::make_unique<ComponentSchema>(schema_of(*p, *c));
        auto *raw = s.get();
        (*cache)[id] = std::move(s);
        return raw;
    };
}

std::vector<fs::path> RunContext::input_files(const std::string &port) const {
    std::vector<fs::path> files;
    auto it = node.inputs.find(port);
    if (it == node.inputs.end()) return files;
    for (auto &target : it->second) {
        std::string name = target.substr(0, target.find('.'));
        std::string output = target.find('.') == std::string::npos ? "" : target.substr(target.find('.') + 1);
        const NodeSpec *producer = graph.find(name);
        if (output.empty() && producer && producer->schema && !producer->schema->outputs.empty())
            output = producer->schema->outputs.front();
        auto n = outputs.find(name);
        if (n == outputs.end() || !n->second.count(output))
            throw std::runtime_error(fmt::format("node '{}': input '{}' has no files yet (is '{}' disabled?)", node.name, target, name));
        auto &f = n->second.at(output);
        files.insert(files.end(), f.begin(), f.end());
    }
    return files;
}

bool RunContext::owns(const std::string &domain_node, const std::string &item_id) const {
    if (!shard) return true;
    return static_cast<int>(fnv1a(domain_node + "\x1f" + item_id) % static_cast<uint64_t>(shard->second)) == shard->first;
}

std::optional<std::pair<int, int>> resolve_shard(const std::string &spec) {
    auto parse = [](const std::string &i, const std::string &n) -> std::pair<int, int> {
        int a = std::stoi(i), b = std::stoi(n);
        if (b < 1 || a < 0 || a >= b) throw std::runtime_error(fmt::format("shard {}/{}: needs 0 <= i < n", a, b));
        return {a, b};
    };
    if (!spec.empty()) {
        auto slash = spec.find('/');
        if (slash == std::string::npos) throw std::runtime_error(fmt::format("graph.shard = '{}': expected \"i/n\"", spec));
        try {
            return parse(spec.substr(0, slash), spec.substr(slash + 1));
        } catch (const std::invalid_argument &) {
            throw std::runtime_error(fmt::format("graph.shard = '{}': expected \"i/n\"", spec));
        }
    }
    // A Slurm array task: shard = task id - min id of task count.
    const char *id = std::getenv("SLURM_ARRAY_TASK_ID"), *count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (id && count && *id && *count) {
        const char *min = std::getenv("SLURM_ARRAY_TASK_MIN");
        int offset = min && *min ? std::stoi(min) : 0;
        return parse(std::to_string(std::stoi(id) - offset), count);
    }
    return std::nullopt;
}

int run_graph(const fs::path &file, const RunOptions &options) {
    Graph graph;
    try {
        graph = parse_graph(file, options.overrides);
    } catch (const GraphError &e) {
        for (auto &p : e.problems()) logger().error("{}", p);
        return 2;
    }
    if (!graph.log_level.empty()) configure_logging(graph.log_level);
    PluginLoader loader(plugin_search_path(options.plugin_paths, graph.plugin_path));
    SchemaResolver resolver = make_resolver(loader); // owns the schemas the nodes point at
    try {
        validate_graph(graph, resolver);
    } catch (const GraphError &e) {
        for (auto &p : e.problems()) logger().error("{}", p);
        logger().error("{}: {} problem(s); nothing was run", graph.display_file, e.problems().size());
        return 2;
    }
    if (options.validate_only) {
        logger().info("{}: valid ({} nodes)", graph.display_file, graph.nodes.size());
        return 0;
    }

    // Instantiate in dependency order; core nodes run when reached.
    std::map<std::string, std::unique_ptr<Domain>> domains;
    std::map<std::string, std::unique_ptr<Backend>> backends;
    std::map<std::string, std::string> plugin_versions;
    std::map<std::string, nlohmann::json> trained; // trainer node -> its summary
    NodeOutputs outputs;
    std::vector<fs::path> ran; // node output folders, in run order: the end-of-run table reads them
    try {
        auto shard = options.whole ? std::nullopt : resolve_shard(graph.shard);
        // A shard writes under <output_dir>/shard-<i>-of-<n>/; `parley merge` joins them.
        const fs::path out_root = shard ? graph.output_dir / fmt::format("shard-{}-of-{}", shard->first, shard->second) : graph.output_dir;
        if (shard) logger().info("running shard {} of {} into {}", shard->first, shard->second, out_root.string());
        Progress::record_timelines_in(out_root); // <out_root>/<node>/timeline.jsonl, for parley report
        for (const NodeSpec *n : topological_order(graph)) {
            if (!n->enabled) {
                logger().info("node '{}' is disabled", n->name);
                continue;
            }
            const ComponentSchema &s = *n->schema;
            if (s.kind != kKindCore)
                plugin_versions[n->name] = fmt::format("{}@{} ({} v{}, ABI {})", s.plugin, s.plugin_version, s.id(), s.version, s.abi_version);
            switch (s.kind) {
            case PARLEY_KIND_DOMAIN: {
                auto d = Domain::create(*n);
                std::string data = n->config["data"].value_or(std::string());
                auto [items, skipped] = d->load(data, n->config["skip_malformed"].value_or(false));
                int64_t limit = n->config["limit"].value_or(int64_t{0});
                if (limit > 0) d->limit(static_cast<size_t>(limit));
                logger().info("domain '{}' ({}): {} items from {}{}{}", n->name, n->use, items, data,
                              d->size() < items ? fmt::format(" (using the first {})", d->size()) : "",
                              skipped ? fmt::format(", {} malformed rows skipped", skipped) : "");
                domains[n->name] = std::move(d);
                break;
            }
            case PARLEY_KIND_BACKEND: {
                NodeSpec spec = *n;
                if (auto it = n->inputs.find("model"); it != n->inputs.end()) {
                    // Serve what a trainer exported: a full model, or a base model plus adapter.
                    const nlohmann::json &t = trained.at(it->second.front());
                    if (t.value("adapter", false)) {
                        spec.config.insert_or_assign("model", t.value("base_model", std::string()));
                        spec.config.insert_or_assign("lora", t.value("model", std::string()));
                    } else {
                        spec.config.insert_or_assign("model", t.value("model", std::string()));
                    }
                }
                auto b = Backend::create(spec);
                logger().info("backend '{}' ({}): model {}", n->name, n->use, b->model());
                backends[n->name] = std::move(b);
                break;
            }
            case kKindCore:
            case PARLEY_KIND_FILTER:
            case PARLEY_KIND_TRAINER: {
                RunContext ctx{graph, *n, out_root / n->name, {}, {}, plugin_versions, outputs, shard};
                for (auto &[k, v] : domains) ctx.domains[k] = v.get();
                for (auto &[k, v] : backends) ctx.backends[k] = v.get();
                if (s.kind == PARLEY_KIND_FILTER) run_filter(ctx);
                else if (s.kind == PARLEY_KIND_TRAINER) trained[n->name] = run_trainer(ctx);
                else find_core_node(s.name)->run(ctx);
                ran.push_back(ctx.output_dir);
                break;
            }
            default: logger().warn("node '{}': {} nodes do not run on their own yet", n->name, kind_name(s.kind));
            }
        }
        Progress::record_timelines_in({});
        try { // the run is done: a table that cannot be made is a warning, not a failed run
            if (std::string table = summary_table(ran); !table.empty())
                fmt::print("\n{}: {} (mean [95% interval], or ± standard error)\n{}", graph.display_file, graph.name, table);
        } catch (const std::exception &e) {
            logger().warn("end-of-run table: {}", e.what());
        }
    } catch (const std::exception &e) {
        Progress::record_timelines_in({});
        logger().error("{}", e.what());
        return 1;
    }
    return 0;
}

} // namespace parley::core
