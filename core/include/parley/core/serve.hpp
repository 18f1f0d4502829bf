// `parley serve`: one backend (the embedded llama.cpp engine on a GGUF, or any backend node of a
// graph) behind an OpenAI-compatible HTTP API. The host stays small: the backend runs through the
// plugin C ABI like in any graph.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

namespace fs = std::filesystem;

struct ServeOptions {
    std::string target;                 // MODEL.gguf or GRAPH.toml
    std::string node;                   // with a graph: the backend node (optional if it has one)
    std::vector<std::string> overrides; // KEY=VALUE: llama_cpp/backend keys, or a graph's overrides
    std::vector<fs::path> plugin_paths;
    std::string host = "127.0.0.1";
    int port = 8000;                    // 0: any free port (see port_file)
    std::string api_key;                // empty: $PARLEY_API_KEY, else none
    std::string model_name;             // served name; default: the model file's stem
    int threads = 2;                    // HTTP I/O threads
    double drain_timeout_s = 60;        // on SIGTERM: how long answered requests may still run
    fs::path port_file;                 // when set, the bound port is written there once listening
    int grpc_port = -1;                 // Matrix's OpenaiService over gRPC on this port; -1: off, 0: any
    fs::path grpc_port_file;            // as port_file, for the gRPC port
    // Replica registration: once listening, DIR/<host>-<pid>.url lists this server's URLs
    // (http://host:port, and grpc://host:port with gRPC); removed on exit. Clients (the openai and
    // grpc backends' replicas_from) read the folder. Host 0.0.0.0 registers the machine's host name.
    fs::path register_dir;
};

// Serves until SIGTERM or SIGINT, then drains. Returns the process exit code.
int serve(const ServeOptions &options);

} // namespace parley::core
