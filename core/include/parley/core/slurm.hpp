// `parley slurm`: an sbatch script running a graph as a job array, one shard per task.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

namespace fs = std::filesystem;

struct SlurmOptions {
    fs::path graph;
    std::vector<std::string> overrides;
    int shards = 1;
    int cpus = 2;
    int gpus = 0;
    std::string mem, time, partition, job_name;
    std::vector<std::string> replicas; // inference server URLs for the graph's openai backend
    std::string replica_node;          // which node gets them (default: the first openai/backend)
    std::vector<fs::path> plugin_paths;
    fs::path out;                      // empty: stdout

    // Server mode (serve non-empty): an array of `shards` tasks, each starting `replicas_per_task`
    // servers that register in `register_dir` and leave it on exit; an evaluation finds them with
    // replicas_from = register_dir (openai/backend or grpc/backend). `serve` is a GGUF or a graph (with serve_node)
    // for `parley serve`, whose KEY=VALUE are `overrides`; or, with `server_command`, any server
    // (vLLM, SGLang, llama-server) as a template: {port} and {host} are substituted, and the
    // replica is registered as http://{host}:{port} once GET /health answers.
    std::string serve;
    std::string serve_node;
    int replicas_per_task = 1;
    fs::path register_dir;
    std::string server_command;
};

std::string slurm_script(const SlurmOptions &options);
std::string slurm_serve_script(const SlurmOptions &options);
int write_slurm_script(const SlurmOptions &options);

} // namespace parley::core
