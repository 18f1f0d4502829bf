// `parley slurm`: writes an sbatch script that runs a graph as a Slurm job array, one shard per
// task (each task finds its shard in SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT).
#include <parley/core/graph.hpp>
#include <parley/core/log.hpp>
#include <parley/core/slurm.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace parley::core {

namespace {

// The array and resource lines both kinds of script share.
void sbatch_resources(std::ostream &s, const SlurmOptions &o) {
    s << "#SBATCH --array=0-" << (o.shards - 1) << "\n";
    s << "#SBATCH --ntasks=1\n";
    s << "#SBATCH --cpus-per-task=" << o.cpus << "\n";
    if (!o.mem.empty()) s << "#SBATCH --mem=" << o.mem << "\n";
    if (!o.time.empty()) s << "#SBATCH --time=" << o.time << "\n";
    if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
    if (o.gpus > 0) s << "#SBATCH --gpus-per-task=" << o.gpus << "\n";
}

std::string shell_quote(const std::string &s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}
} // namespace

std::string slurm_script(const SlurmOptions &o) {
    Graph g = parse_graph(o.graph, o.overrides); // fails early on a broken graph
    if (o.shards < 1) throw std::runtime_error("--shards must be at least 1");
    const std::string exe = boost::dll::program_location().string();
    std::vector<std::string> args = o.overrides;
    if (!o.replicas.empty()) {
        std::string node = o.replica_node;
        if (node.empty())
            for (auto &n : g.nodes)
                if (n.plugin == "openai") {
                    node = n.name;
                    break;
                }
        if (node.empty()) throw std::runtime_error("--replicas needs an openai/backend node in the graph (or --replica-node)");
        std::string list = "[";
        for (size_t i = 0; i < o.replicas.size(); ++i) list += (i ? ", \"" : "\"") + o.replicas[i] + "\"";
        args.push_back(fmt::format("nodes.{}.url={}]", node, list));
    }
    args.push_back("graph.output_dir=" + g.output_dir.string());

    std::ostringstream s;
    s << "#!/bin/bash\n";
    s << "# Written by `parley slurm` for " << g.file.string() << ".\n";
    s << "# Each array task runs one shard of the graph (Parley reads SLURM_ARRAY_TASK_ID and\n";
    s << "# SLURM_ARRAY_TASK_COUNT); a re-submitted task resumes where it stopped. When all are done,\n";
    s << "# join the shards and write each node's results.json (no requests are sent):\n";
    s << "#   " << exe << " merge " << shell_quote(g.output_dir.string()) << " " << shell_quote(g.file.string());
    for (auto &a : args) s << " " << shell_quote(a);
    s << "\n";
    s << "# Inference servers (vLLM, SGLang, llama-server) run as jobs of their own; point the shards at\n";
    s << "# them with --replicas URL,... (an openai/backend node's `url`).\n";
    s << "#SBATCH --job-name=" << (o.job_name.empty() ? "parley-" + g.name : o.job_name) << "\n";
    sbatch_resources(s, o);
    s << "#SBATCH --output=" << (g.output_dir / "logs").string() << "/%x-%A_%a.out\n";
    s << "set -euo pipefail\n";
    std::string plugin_path;
    for (auto &p : o.plugin_paths) plugin_path += (plugin_path.empty() ? "" : ":") + fs::absolute(p).string();
    if (!plugin_path.empty()) s << "export PARLEY_PLUGIN_PATH=" << shell_quote(plugin_path) << "${PARLEY_PLUGIN_PATH:+:$PARLEY_PLUGIN_PATH}\n";
    s << "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-" << o.cpus << "}\n";
    s << "exec " << shell_quote(exe) << " run " << shell_quote(g.file.string());
    for (auto &a : args) s << " \\\n  " << shell_quote(a);
    s << "\n";
    return s.str();
}

namespace {
// One replica of the server job, as a bash function: `parley serve` registers itself; a
// templated command gets a free port and is registered once healthy.
std::string replica_function(const SlurmOptions &o, const std::string &exe) {
    std::ostringstream s;
    const std::string dir = shell_quote(fs::absolute(o.register_dir).string());
    s << "replica() {\n";
    if (o.server_command.empty()) {
        s << "  exec " << shell_quote(exe) << " serve " << shell_quote(fs::absolute(o.serve).string());
        if (!o.serve_node.empty()) s << " --node " << shell_quote(o.serve_node);
        s << " --host 0.0.0.0 --port 0 --grpc-port 0 --register " << dir;
        for (auto &a : o.overrides) s << " " << shell_quote(a);
        s << "\n";
    } else {
        s << "  trap 'exit 143' TERM  # so the EXIT trap below unregisters on scancel\n";
        s << "  host=$(hostname)\n";
        s << "  port=$(python3 -c 'import socket; s=socket.socket(); s.bind((\"\", 0)); print(s.getsockname()[1])')\n";
        s << "  file=" << dir << "/$host-$SLURM_JOB_ID-$1.url\n";
        s << "  cmd=" << shell_quote(o.server_command) << "\n";
        s << "  cmd=${cmd//\\{port\\}/$port}; cmd=${cmd//\\{host\\}/$host}\n";
        s << "  bash -c \"exec $cmd\" & pid=$!\n";
        s << "  trap 'rm -f \"$file\"; kill -TERM $pid 2>/dev/null' EXIT\n";
        s << "  until curl -sf \"http://$host:$port/health\" >/dev/null; do kill -0 $pid || return 1; sleep 2; done\n";
        s << "  echo \"http://$host:$port\" > \"$file.tmp\" && mv \"$file.tmp\" \"$file\"\n";
        s << "  wait $pid\n";
    }
    s << "}\n";
    return s.str();
}
// An sbatch script at `path`, executable.
void write_script(const fs::path &path, const std::string &script) {
    std::ofstream(path) << script;
    fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
}

} // namespace

std::string slurm_serve_script(const SlurmOptions &o) {
    if (o.register_dir.empty()) throw std::runtime_error("parley slurm --serve needs --register DIR (where replicas list themselves)");
    if (o.shards < 1 || o.replicas_per_task < 1) throw std::runtime_error("--servers and --replicas-per-task must be at least 1");
    if (o.server_command.empty() && !fs::exists(o.serve)) throw std::runtime_error(fmt::format("--serve {}: no such file", o.serve));
    const std::string exe = boost::dll::program_location().string();
    const fs::path logs = fs::absolute(o.register_dir) / ".logs"; // a hidden folder: replica lists skip it
    std::ostringstream s;
    s << "#!/bin/bash\n";
    s << "# Written by `parley slurm --serve`: " << o.shards << " task(s) x " << o.replicas_per_task << " server(s), each\n";
    s << "# listed in " << fs::absolute(o.register_dir).string() << " while it runs (openai or grpc backend: replicas_from).\n";
    s << "#SBATCH --job-name=" << (o.job_name.empty() ? "parley-serve" : o.job_name) << "\n";
    sbatch_resources(s, o);
    s << "#SBATCH --output=" << logs.string() << "/%x-%A_%a.out\n";
    s << "set -uo pipefail\n";
    std::string plugin_path;
    for (auto &p : o.plugin_paths) plugin_path += (plugin_path.empty() ? "" : ":") + fs::absolute(p).string();
    if (!plugin_path.empty()) s << "export PARLEY_PLUGIN_PATH=" << shell_quote(plugin_path) << "${PARLEY_PLUGIN_PATH:+:$PARLEY_PLUGIN_PATH}\n";
    s << "mkdir -p " << shell_quote(fs::absolute(o.register_dir).string()) << "\n";
    s << replica_function(o, exe);
    s << "pids=()\n";
    s << "for r in $(seq 0 " << (o.replicas_per_task - 1) << "); do replica \"$r\" & pids+=($!); done\n";
    s << "trap 'kill -TERM \"${pids[@]}\" 2>/dev/null; wait' TERM INT\n";
    s << "wait\n";
    return s.str();
}

int write_slurm_script(const SlurmOptions &o) {
    if (!o.serve.empty()) {
        std::string script = slurm_serve_script(o);
        fs::create_directories(fs::absolute(o.register_dir) / ".logs");
        if (o.out.empty()) {
            std::fwrite(script.data(), 1, script.size(), stdout);
            return 0;
        }
        write_script(o.out, script);
        logger().info("wrote {}: sbatch {}  (replicas list themselves in {})", o.out.string(), o.out.string(), o.register_dir.string());
        return 0;
    }
    std::string script = slurm_script(o);
    Graph g = parse_graph(o.graph, o.overrides);
    fs::create_directories(g.output_dir / "logs");
    if (o.out.empty()) {
        std::fwrite(script.data(), 1, script.size(), stdout);
        return 0;
    }
    write_script(o.out, script);
    logger().info("wrote {}: sbatch {}  (then: parley merge {} {} ..., as the script says)", o.out.string(), o.out.string(),
                  g.output_dir.string(), g.file.string());
    return 0;
}

} // namespace parley::core
