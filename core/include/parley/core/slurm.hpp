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
};

std::string slurm_script(const SlurmOptions &options);
int write_slurm_script(const SlurmOptions &options);

} // namespace parley::core
