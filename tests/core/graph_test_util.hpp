// What the graph-validation tests share: a temporary folder to write graphs into, and the
// problems `validate_graph` reports for a file (schemas resolved through the real loader over the
// test fixtures, plus the built-in core nodes).
#pragma once

#include <parley/core/graph.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace graph_test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string &tag) {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("parley-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::filesystem::path write(const std::string &name, const std::string &text) const {
        std::ofstream(path / name) << text;
        return path / name;
    }
};

inline std::vector<std::string> problems_of(const std::filesystem::path &file, const std::vector<std::string> &overrides = {}) {
    parley::core::PluginLoader loader({PARLEY_FIXTURE_DIR});
    try {
        auto g = parley::core::parse_graph(file, overrides);
        parley::core::validate_graph(g, parley::core::make_resolver(loader));
    } catch (const parley::core::GraphError &e) {
        return e.problems();
    }
    return {};
}

} // namespace graph_test
