#ifdef PARLEY_WITH_GRPC
#include "grpc_api.hpp"
#endif
#include "http_api.hpp"
#include "http_server.hpp"
#include "service.hpp"

#include <parley/core/graph.hpp>
#include <parley/core/log.hpp>
#include <parley/core/run.hpp>
#include <parley/core/serve.hpp>

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <pthread.h>
#include <unistd.h>

namespace parley::core {

namespace {

// A one-node graph for `parley serve MODEL.gguf`: the llama_cpp backend on the model, the command
// line's KEY=VALUE as its keys. Validated like any graph, so unknown keys get a did-you-mean.
Graph model_graph(const ServeOptions &o, fs::path &scratch) {
    scratch = fs::temp_directory_path() / fmt::format("parley-serve-{}.toml", ::getpid());
    toml::table node{{"use", "llama_cpp/backend"}, {"model", fs::absolute(o.target).string()}};
    std::ofstream(scratch) << toml::table{{"graph", toml::table{{"name", "serve"}}}, {"nodes", toml::table{{"model", node}}}};
    std::vector<std::string> overrides;
    for (auto &kv : o.overrides) overrides.push_back(kv.rfind("nodes.", 0) == 0 ? kv : "nodes.model." + kv);
    Graph g = parse_graph(scratch, overrides);
    g.display_file = "parley serve " + o.target;
    return g;
}

const NodeSpec &backend_node(const Graph &g, const std::string &wanted) {
    const NodeSpec *found = nullptr;
    std::string names;
    for (auto &n : g.nodes) {
        if (!n.schema || n.schema->kind != PARLEY_KIND_BACKEND) continue;
        names += (names.empty() ? "" : ", ") + n.name;
        if (wanted.empty() ? !found : n.name == wanted) found = &n;
    }
    if (!found || (wanted.empty() && names.find(',') != std::string::npos))
        throw std::runtime_error(fmt::format("{}: {} (backend nodes: {})", g.display_file,
                                             wanted.empty() ? "name the backend to serve with --node" : "no backend node '" + wanted + "'",
                                             names.empty() ? "none" : names));
    return *found;
}

// The replica's entry in a registration folder, written atomically (rename) and removed on exit.
class Registration {
  public:
    Registration(const fs::path &dir, const std::string &host, int http_port, int grpc_port) {
        if (dir.empty()) return;
        std::string name = host;
        if (host == "0.0.0.0" || host == "::") {
            char buf[256] = {0};
            gethostname(buf, sizeof buf - 1);
            name = buf;
        }
        fs::create_directories(dir);
        file_ = dir / fmt::format("{}-{}.url", name, ::getpid());
        fs::path tmp = dir / fmt::format(".{}-{}.tmp", name, ::getpid());
        {
            std::ofstream out(tmp);
            out << fmt::format("http://{}:{}\n", name, http_port);
            if (grpc_port > 0) out << fmt::format("grpc://{}:{}\n", name, grpc_port);
        }
        fs::rename(tmp, file_);
        logger().info("registered in {}", file_.string());
    }
    ~Registration() {
        std::error_code ec;
        if (!file_.empty()) fs::remove(file_, ec);
    }
    // Leave the folder first on a drain, so clients stop choosing this replica.
    void withdraw() {
        std::error_code ec;
        if (!file_.empty()) fs::remove(file_, ec);
        file_.clear();
    }

  private:
    fs::path file_;
};

struct OpenedBackend {
    std::unique_ptr<Backend> backend;
    std::string model_name;
};

OpenedBackend open_backend(const ServeOptions &o, PluginLoader &loader) {
    fs::path scratch;
    const bool is_graph = fs::path(o.target).extension() == ".toml";
    Graph g = is_graph ? parse_graph(o.target, o.overrides) : model_graph(o, scratch);
    if (!scratch.empty()) fs::remove(scratch);
    SchemaResolver resolver = make_resolver(loader);
    validate_graph(g, resolver);
    const NodeSpec &node = backend_node(g, is_graph ? o.node : "model");
    OpenedBackend b{Backend::create(node), o.model_name};
    if (b.model_name.empty()) b.model_name = fs::path(b.backend->model()).stem().string();
    if (b.model_name.empty()) b.model_name = node.name;
    logger().info("serving node '{}' ({}) as model '{}'", node.name, node.use, b.model_name);
    return b;
}

} // namespace

int serve(const ServeOptions &o) {
    // Signals go to sigwait below, not to whichever thread happens to run: block them before any
    // thread (backend, I/O) starts, so every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::string api_key = o.api_key;
    if (api_key.empty())
        if (const char *env = std::getenv("PARLEY_API_KEY")) api_key = env;
    try {
        PluginLoader loader(plugin_search_path(o.plugin_paths, {}));
        OpenedBackend opened = open_backend(o, loader);
        serve::Service service(*opened.backend, opened.model_name);
        serve::HttpServer http(o.host, o.port, o.threads, serve::make_http_handler(service, api_key));
        logger().info("listening on http://{}:{}/v1{}", o.host, http.port(), api_key.empty() ? "" : " (API key required)");
        if (!o.port_file.empty()) std::ofstream(o.port_file) << http.port() << "\n";
#ifdef PARLEY_WITH_GRPC
        std::unique_ptr<serve::GrpcServer> grpc;
        if (o.grpc_port >= 0) {
            grpc = std::make_unique<serve::GrpcServer>(service, o.host, o.grpc_port, api_key);
            logger().info("gRPC (matrix.app_server.llm.OpenaiService) on {}:{}", o.host, grpc->port());
            if (!o.grpc_port_file.empty()) std::ofstream(o.grpc_port_file) << grpc->port() << "\n";
        }
        const int grpc_port = grpc ? grpc->port() : 0;
#else
        if (o.grpc_port >= 0) throw std::runtime_error("--grpc-port: this parley was built without gRPC (libgrpc++-dev)");
        const int grpc_port = 0;
#endif
        Registration registration(o.register_dir, o.host, http.port(), grpc_port);

        int sig = 0;
        sigwait(&signals, &sig);
        logger().info("{}: draining ({} requests in flight, up to {} s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                      service.in_flight(), o.drain_timeout_s);
        registration.withdraw();
        service.drain();
        http.stop_accepting();
        if (!service.wait_idle(o.drain_timeout_s))
            logger().warn("drain timed out with {} requests in flight; cancelling them", service.in_flight());
#ifdef PARLEY_WITH_GRPC
        if (grpc) grpc->shutdown(5);
#endif
        http.stop();            // no handler runs past here, so none reaches the backend below
        opened.backend.reset(); // cancels what is left (their replies go nowhere now)
        logger().info("stopped");
        return 0;
    } catch (const GraphError &e) {
        for (auto &p : e.problems()) logger().error("{}", p);
        return 2;
    } catch (const std::exception &e) {
        logger().error("{}", e.what());
        return 1;
    }
}

} // namespace parley::core
