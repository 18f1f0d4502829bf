#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/run.hpp>

#include <fmt/format.h>

namespace parley::core {

SchemaResolver make_resolver(PluginLoader &loader) {
    // Schemas must outlive the graph: keep them here, one per component.
    auto cache = std::make_shared<std::map<std::string, std::unique_ptr<ComponentSchema>>>();
    return [&loader, cache](const std::string &plugin, const std::string &component, std::string *why) -> const ComponentSchema * {
        if (plugin == "core") {
            if (auto *s = find_core_schema(component)) return s;
            std::vector<std::string> names;
            for (auto &s : core_schemas()) names.push_back(s.name);
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
    try {
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
                auto b = Backend::create(*n);
                logger().info("backend '{}' ({}): model {}", n->name, n->use, b->model());
                backends[n->name] = std::move(b);
                break;
            }
            case kKindCore: {
                RunContext ctx{graph, *n, graph.output_dir / n->name, {}, {}, plugin_versions};
                for (auto &[k, v] : domains) ctx.domains[k] = v.get();
                for (auto &[k, v] : backends) ctx.backends[k] = v.get();
                if (s.name == "cot_eval") run_cot_eval(ctx);
                else if (s.name == "coral_eval") run_coral_eval(ctx);
                break;
            }
            default: logger().warn("node '{}': {} nodes do not run on their own yet", n->name, kind_name(s.kind));
            }
        }
    } catch (const std::exception &e) {
        logger().error("{}", e.what());
        return 1;
    }
    return 0;
}

} // namespace parley::core
