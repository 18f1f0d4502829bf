// parley — the command-line host.
#include <parley/core/compare.hpp>
#include <parley/core/coral_metrics.hpp>
#include <parley/core/graph.hpp>
#include <parley/core/log.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>
#include <parley/core/schema.hpp>
#include <parley/core/merge.hpp>
#include <parley/core/report.hpp>
#include <parley/core/score.hpp>
#include <parley/core/serve.hpp>
#include <parley/core/slurm.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <iostream>

namespace core = parley::core;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char *kUsage = R"(parley — collaborative multi-agent reasoning with language models

usage:
  parley run GRAPH.toml [KEY=VALUE ...] [options]   run a graph (KEY like nodes.model.model or graph.output_dir)
  parley validate GRAPH.toml [KEY=VALUE ...]         check a graph without running anything
  parley plugins [--json]                            list discovered plugins with kind, version and ABI
  parley inspect PLUGIN[/COMPONENT] [--json]         show a plugin's components and their parameters
  parley score --domain NAME --data PATH --responses FILE.jsonl [--out FILE.jsonl] [--profile coral|fixed]
               [--set KEY=VALUE ...]                  re-score saved responses (rows {"id","response"}) without a model
  parley slurm GRAPH.toml --shards N [--cpus C] [--mem M] [--time T] [--partition P] [--gpus G]
               [--replicas URL,URL] [--out FILE] [KEY=VALUE ...]
                                                     write an sbatch script running the graph as an N-task array
  parley slurm --serve MODEL.gguf|GRAPH.toml --register DIR [--servers N] [--replicas-per-task R]
               [--server-command 'vllm serve M --port {port}'] [--cpus C] [...] [KEY=VALUE ...]
                                                     write an sbatch array of inference servers that list
                                                     themselves in DIR (grpc/backend: replicas_from = DIR)
  parley serve MODEL.gguf [--host H] [--port P] [--grpc-port G] [--api-key K] [--served-model-name NAME] [KEY=VALUE ...]
  parley serve GRAPH.toml [--node NODE] [...]         serve a backend (llama_cpp keys as KEY=VALUE, or a graph's backend
                                                     node) over an OpenAI-compatible HTTP API (and Matrix's gRPC with
                                                     --grpc-port); --register DIR lists it for clients; SIGTERM drains
  parley merge OUTPUT_DIR [--node NODE]              join a sharded run's outputs; every (item, trial) exactly once
  parley merge OUTPUT_DIR GRAPH.toml [KEY=VALUE ...]  join them, then write each node's results.json as one whole
                                                     run of the graph would (everything is finished: no requests)
  parley metrics RECORDS.jsonl [--profile coral|matrix] [--max-turns N]
                                                     recompute Coral's metrics.json from conversation records
                                                     (Parley's or the official code's; max_turns defaults to
                                                     what the records say, else 20)
  parley compare RUN_A RUN_B [RUN ...] [--metric M] [--allow-unpaired] [--fail-if-worse DELTA] [--json]
               [--resamples N] [--seed S]            paired comparison of evaluation runs on shared (domain, item,
                                                     trial): B - A per domain and macro, paired bootstrap interval,
                                                     exact McNemar; exit 1 when a B is worse than DELTA, 2 unpaired
  parley report RUN_DIR [RUN_DIR ...] -o report.html [--show-sensitive]
                                                     one self-contained HTML file: tables with intervals, charts,
                                                     a conversation viewer (GPQA text hidden unless --show-sensitive)
  parley version

options:
  --plugin-path DIR   look for plugins in DIR first (repeatable; also $PARLEY_PLUGIN_PATH)
  --log-level LEVEL   trace, debug, info (default), warn, error
  -h, --help          this text
)";

struct Args {
    std::string command;
    std::vector<std::string> positional;
    std::vector<fs::path> plugin_paths;
    bool json = false;
    std::map<std::string, std::string> flags; // --domain, --data, --responses, --out, --profile
    std::vector<std::string> sets;            // --set KEY=VALUE
};

Args parse_args(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto value = [&](const char *flag) -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", flag));
            return argv[++i];
        };
        if (s == "-h" || s == "--help") a.command = "help";
        else if (s == "--json") a.json = true;
        else if (s == "--plugin-path") a.plugin_paths.emplace_back(value("--plugin-path"));
        else if (s.rfind("--plugin-path=", 0) == 0) a.plugin_paths.emplace_back(s.substr(14));
        else if (s == "--log-level") core::configure_logging(value("--log-level"));
        else if (s.rfind("--log-level=", 0) == 0) core::configure_logging(s.substr(12));
        else if (s == "--domain" || s == "--data" || s == "--responses" || s == "--out" || s == "--profile" ||
                 s == "--max-turns" || s == "--shards" || s == "--cpus" || s == "--mem" || s == "--time" ||
                 s == "--partition" || s == "--gpus" || s == "--replicas" || s == "--replica-node" || s == "--job-name" ||
                 s == "--node" || s == "--host" || s == "--port" || s == "--api-key" || s == "--served-model-name" ||
                 s == "--port-file" || s == "--drain-timeout" || s == "--grpc-port" || s == "--grpc-port-file" || s == "--register" || s == "--serve" ||
                 s == "--servers" || s == "--replicas-per-task" || s == "--server-command" || s == "--metric" ||
                 s == "--fail-if-worse" || s == "--resamples" || s == "--seed")
            a.flags[s.substr(2)] = value(s.c_str());
        else if (s == "-o") a.flags["out"] = value("-o");
        else if (s == "--allow-unpaired" || s == "--show-sensitive") a.flags[s.substr(2)] = std::string("1");
        else if (s == "--set") a.sets.push_back(value("--set"));
        else if (s.size() > 1 && s[0] == '-') throw std::runtime_error(fmt::format("unknown option '{}' (see parley --help)", s));
        else if (a.command.empty()) a.command = s;
        else a.positional.push_back(s);
    }
    return a;
}

json component_json(const core::ComponentSchema &s) {
    json params = json::array();
    for (auto &p : s.params) {
        json j = {{"key", p.key}, {"type", core::type_name(p.type)}, {"required", (p.flags & PARLEY_PARAM_REQUIRED) != 0},
                  {"default", p.shown_default()}, {"doc", p.doc}};
        if (!p.choices.empty()) j["choices"] = p.choices;
        if (p.min) j["min"] = *p.min;
        if (p.max) j["max"] = *p.max;
        j["host_applies_default"] = p.value.has_value();
        params.push_back(std::move(j));
    }
    json inputs = json::array();
    for (auto &p : s.inputs)
        inputs.push_back({{"name", p.name}, {"kind", core::kind_name(p.kind)}, {"multiple", p.multiple}, {"required", p.required}, {"doc", p.doc}});
    return {{"id", s.id()}, {"kind", core::kind_name(s.kind)}, {"version", s.version}, {"description", s.description},
            {"params", params}, {"inputs", inputs}};
}

int cmd_plugins(const Args &a) {
    core::PluginLoader loader(core::plugin_search_path(a.plugin_paths, {}));
    auto plugins = loader.load_all();
    if (a.json) {
        json out = {{"host_abi", fmt::format("{}.{}", PARLEY_ABI_MAJOR, PARLEY_ABI_MINOR)}, {"plugins", json::array()}, {"rejected", json::array()}};
        for (auto *p : plugins) {
            json comps = json::array();
            for (auto *c : p->components)
                comps.push_back({{"name", c->name}, {"id", p->name + "/" + c->name}, {"kind", core::kind_name(c->kind)},
                                 {"version", c->version}, {"description", c->description ? c->description : ""}});
            json kinds = json::array();
            for (auto *c : p->components)
                if (std::find(kinds.begin(), kinds.end(), core::kind_name(c->kind)) == kinds.end()) kinds.push_back(core::kind_name(c->kind));
            out["plugins"].push_back({{"name", p->name}, {"version", p->desc->version}, {"abi_version", p->abi_version()},
                                      {"kinds", kinds}, {"path", p->path.string()},
                                      {"description", p->desc->description ? p->desc->description : ""}, {"components", comps}});
        }
        for (auto &r : loader.rejections()) out["rejected"].push_back({{"path", r.path.string()}, {"reason", r.reason}});
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    fmt::print("{:<14} {:<10} {:<6} {:<28} {}\n", "PLUGIN", "VERSION", "ABI", "COMPONENTS", "PATH");
    for (auto *p : plugins) {
        std::string comps;
        for (auto *c : p->components) comps += (comps.empty() ? "" : ", ") + fmt::format("{} ({})", c->name, core::kind_name(c->kind));
        fmt::print("{:<14} {:<10} {:<6} {:<28} {}\n", p->name, p->desc->version, p->abi_version(), comps, p->path.string());
    }
    for (auto *n : core::core_nodes())
        fmt::print("{:<14} {:<10} {:<6} {:<28} {}\n", "core", PARLEY_VERSION, "-", n->schema.name + " (core)", "(built in)");
    if (plugins.empty()) {
        std::string dirs;
        for (auto &d : loader.search_path()) dirs += "\n  " + d.string();
        fmt::print(stderr, "no plugins found; searched:{}\n", dirs);
    }
    return loader.rejections().empty() ? 0 : 0;
}

int cmd_inspect(const Args &a) {
    if (a.positional.empty()) throw std::runtime_error("usage: parley inspect PLUGIN[/COMPONENT]");
    std::string target = a.positional[0], plugin = target, component;
    if (auto slash = target.find('/'); slash != std::string::npos) {
        plugin = target.substr(0, slash);
        component = target.substr(slash + 1);
    }
    std::vector<core::ComponentSchema> schemas;
    if (plugin == "core") {
        for (auto *n : core::core_nodes())
            if (component.empty() || n->schema.name == component) schemas.push_back(n->schema);
    } else {
        core::PluginLoader loader(core::plugin_search_path(a.plugin_paths, {}));
        const core::LoadedPlugin *p = fs::exists(plugin) ? loader.load_file(plugin) : loader.load(plugin);
        if (!p) {
            auto why = loader.rejection_for(core::plugin_name_from_file(plugin).empty() ? plugin : core::plugin_name_from_file(plugin));
            throw std::runtime_error(why ? *why : fmt::format("no plugin '{}'", plugin));
        }
        for (auto *c : p->components)
            if (component.empty() || component == c->name) schemas.push_back(core::schema_of(*p, *c));
    }
    if (schemas.empty()) throw std::runtime_error(fmt::format("nothing named '{}'", target));
    if (a.json) {
        json out = json::array();
        for (auto &s : schemas) out.push_back(component_json(s));
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    for (auto &s : schemas) {
        fmt::print("{}  ({} v{}{}{})\n  {}\n", s.id(), core::kind_name(s.kind), s.version,
                   s.plugin_version.empty() ? "" : ", plugin " + s.plugin_version,
                   s.abi_version == "-" ? "" : ", ABI " + s.abi_version, s.description);
        if (!s.inputs.empty()) {
            fmt::print("  inputs:\n");
            for (auto &p : s.inputs)
                fmt::print("    {:<22} {}{}{}  {}\n", p.name, core::kind_name(p.kind), p.multiple ? " (list)" : "",
                           p.required ? "" : " (optional)", p.doc);
        }
        if (!s.params.empty()) {
            fmt::print("  parameters:\n");
            for (auto &p : s.params) {
                const std::string shown = p.shown_default();
                std::string allowed; // choices or range, then the doc
                for (auto &c : p.choices) allowed += (allowed.empty() ? "one of " : ", ") + c;
                if (!p.range_text().empty()) allowed = "in " + p.range_text();
                fmt::print("    {:<22} {:<16} {:<12} {}{}\n", p.key, core::type_name(p.type),
                           (p.flags & PARLEY_PARAM_REQUIRED) ? "required" : (shown.empty() ? "" : "= " + shown),
                           allowed.empty() ? "" : "(" + allowed + ") ", p.doc);
            }
        }
    }
    return 0;
}

int cmd_metrics(Args &a) {
    if (a.positional.empty()) throw std::runtime_error("usage: parley metrics RECORDS.jsonl [--profile coral|matrix] [--max-turns N]");
    auto profile = core::parse_profile(a.flags.count("profile") ? a.flags["profile"] : "coral");
    // max_turns: the flag, else what Parley's records say they ran with, else Coral's 20.
    std::optional<int> max_turns;
    if (a.flags.count("max-turns")) max_turns = std::stoi(a.flags["max-turns"]);
    core::MetricsAccumulator acc;
    for (auto &file : a.positional) {
        std::ifstream in(file);
        if (!in) throw std::runtime_error(fmt::format("cannot open {}", file));
        core::add_records(in, file, max_turns, profile, acc);
    }
    std::cout << acc.means().dump(2) << "\n";
    std::cerr << fmt::format("{} conversations\n", acc.count());
    return 0;
}

int cmd_compare(Args &a) {
    core::CompareOptions o;
    for (auto &p : a.positional) o.runs.emplace_back(p);
    if (a.flags.count("metric")) o.metric = a.flags["metric"];
    o.allow_unpaired = a.flags.count("allow-unpaired") > 0;
    o.json = a.json;
    if (a.flags.count("fail-if-worse")) o.fail_if_worse = std::stod(a.flags["fail-if-worse"]);
    if (a.flags.count("resamples")) o.bootstrap.resamples = std::stoul(a.flags["resamples"]);
    if (a.flags.count("seed")) o.bootstrap.seed = std::stoull(a.flags["seed"]);
    return core::run_compare(o);
}

// Joins a sharded run; given the graph, then runs it over the joined folder as one whole run:
// every (item, trial) is finished, so no request is sent and each evaluation node writes the
// results.json an unsharded run would have written.
int cmd_merge(Args &a) {
    if (a.positional.empty()) throw std::runtime_error("usage: parley merge OUTPUT_DIR [GRAPH.toml [KEY=VALUE ...]] [--node NODE]");
    const bool summarize = a.positional.size() > 1;
    if (summarize && a.flags.count("node"))
        throw std::runtime_error("parley merge: --node joins one node, a GRAPH.toml summarizes them all; give one of them");
    std::vector<std::string> nodes;
    if (a.flags.count("node")) nodes.push_back(a.flags["node"]);
    const int rc = core::merge_shards(a.positional[0], nodes);
    if (rc != 0 || !summarize) return rc;
    core::RunOptions o;
    o.plugin_paths = a.plugin_paths;
    o.overrides.assign(a.positional.begin() + 2, a.positional.end());
    o.overrides.push_back("graph.output_dir=" + a.positional[0]);
    o.whole = true;
    return core::run_graph(a.positional[1], o);
}

} // namespace

int main(int argc, char **argv) {
    try {
        Args a = parse_args(argc, argv);
        if (a.command.empty() || a.command == "help") {
            std::cout << kUsage;
            return a.command.empty() ? 2 : 0;
        }
        if (a.command == "version") {
            fmt::print("parley {} (plugin ABI {}.{})\n", PARLEY_VERSION, PARLEY_ABI_MAJOR, PARLEY_ABI_MINOR);
            return 0;
        }
        if (a.command == "plugins") return cmd_plugins(a);
        if (a.command == "inspect") return cmd_inspect(a);
        if (a.command == "metrics") return cmd_metrics(a);
        if (a.command == "compare") return cmd_compare(a);
        if (a.command == "report") {
            core::ReportOptions o;
            for (auto &p : a.positional) o.runs.emplace_back(p);
            if (a.flags.count("out")) o.out = a.flags["out"];
            o.show_sensitive = a.flags.count("show-sensitive") > 0;
            const auto s = core::write_report(o);
            fmt::print("{}: {} conversations, {} chunks, {:.1f} MB\n", o.out.string(), s.conversations, s.chunks, s.bytes / 1e6);
            return 0;
        }
        if (a.command == "merge") return cmd_merge(a);
        if (a.command == "slurm") {
            const bool serve = a.flags.count("serve") > 0;
            if (serve ? !a.flags.count("register") : (a.positional.empty() || !a.flags.count("shards")))
                throw std::runtime_error("usage: parley slurm GRAPH.toml --shards N [options] [KEY=VALUE ...]\n"
                                         "       parley slurm --serve MODEL.gguf|GRAPH.toml --register DIR [--servers N] [options] [KEY=VALUE ...]");
            core::SlurmOptions o;
            if (serve) {
                o.serve = a.flags["serve"];
                o.serve_node = a.flags["node"];
                o.register_dir = a.flags["register"];
                o.server_command = a.flags["server-command"];
                o.shards = a.flags.count("servers") ? std::stoi(a.flags["servers"]) : 1;
                if (a.flags.count("replicas-per-task")) o.replicas_per_task = std::stoi(a.flags["replicas-per-task"]);
                o.overrides = a.positional;
            } else {
                o.graph = a.positional[0];
                o.overrides.assign(a.positional.begin() + 1, a.positional.end());
                o.shards = std::stoi(a.flags["shards"]);
            }
            if (a.flags.count("cpus")) o.cpus = std::stoi(a.flags["cpus"]);
            if (a.flags.count("gpus")) o.gpus = std::stoi(a.flags["gpus"]);
            o.mem = a.flags["mem"];
            o.time = a.flags["time"];
            o.partition = a.flags["partition"];
            o.job_name = a.flags["job-name"];
            o.replica_node = a.flags["replica-node"];
            if (a.flags.count("replicas")) {
                std::string r = a.flags["replicas"];
                for (size_t start = 0; start <= r.size();) {
                    size_t comma = r.find(',', start);
                    if (comma == std::string::npos) comma = r.size();
                    if (comma > start) o.replicas.push_back(r.substr(start, comma - start));
                    start = comma + 1;
                }
            }
            o.plugin_paths = a.plugin_paths;
            if (a.flags.count("out")) o.out = a.flags["out"];
            return core::write_slurm_script(o);
        }
        if (a.command == "serve") {
            if (a.positional.empty()) throw std::runtime_error("usage: parley serve MODEL.gguf|GRAPH.toml [options] [KEY=VALUE ...]");
            core::ServeOptions o;
            o.target = a.positional[0];
            o.overrides.assign(a.positional.begin() + 1, a.positional.end());
            o.plugin_paths = a.plugin_paths;
            o.node = a.flags["node"];
            if (a.flags.count("host")) o.host = a.flags["host"];
            if (a.flags.count("port")) o.port = std::stoi(a.flags["port"]);
            if (a.flags.count("drain-timeout")) o.drain_timeout_s = std::stod(a.flags["drain-timeout"]);
            o.api_key = a.flags["api-key"];
            o.model_name = a.flags["served-model-name"];
            o.port_file = a.flags["port-file"];
            if (a.flags.count("grpc-port")) o.grpc_port = std::stoi(a.flags["grpc-port"]);
            o.grpc_port_file = a.flags["grpc-port-file"];
            o.register_dir = a.flags["register"];
            return core::serve(o);
        }
        if (a.command == "score") {
            core::ScoreOptions o;
            for (const char *required : {"domain", "data", "responses"})
                if (!a.flags.count(required))
                    throw std::runtime_error(fmt::format("parley score needs --{} (see parley --help)", required));
            o.domain = a.flags["domain"];
            o.data = a.flags["data"];
            o.responses = a.flags["responses"];
            if (a.flags.count("out")) o.out = a.flags["out"];
            if (a.flags.count("profile")) o.profile = a.flags["profile"];
            o.plugin_paths = a.plugin_paths;
            for (auto &kv : a.sets) {
                auto eq = kv.find('=');
                if (eq == std::string::npos) throw std::runtime_error(fmt::format("--set {}: expected KEY=VALUE", kv));
                try {
                    auto t = toml::parse("v = " + kv.substr(eq + 1));
                    o.config.insert_or_assign(kv.substr(0, eq), *t.get("v"));
                } catch (const toml::parse_error &) {
                    o.config.insert_or_assign(kv.substr(0, eq), kv.substr(eq + 1));
                }
            }
            return core::score_responses(o);
        }
        if (a.command == "run" || a.command == "validate") {
            if (a.positional.empty()) throw std::runtime_error(fmt::format("usage: parley {} GRAPH.toml [KEY=VALUE ...]", a.command));
            core::RunOptions o;
            o.plugin_paths = a.plugin_paths;
            o.overrides.assign(a.positional.begin() + 1, a.positional.end());
            o.validate_only = a.command == "validate";
            return core::run_graph(a.positional[0], o);
        }
        throw std::runtime_error(fmt::format("unknown command '{}' (see parley --help)", a.command));
    } catch (const std::exception &e) {
        core::logger().error("{}", e.what());
        return 2;
    }
}
