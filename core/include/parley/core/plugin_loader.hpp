// Finds plugin files, opens them with Boost.DLL and checks their descriptors against the host's
// ABI. Only what is asked for is opened; nothing is ever unloaded while the process runs (a
// plugin's threads or static objects may outlive any single use of it).
#pragma once

#include <parley/plugin.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::dll { class shared_library; }

namespace parley::core {

namespace fs = std::filesystem;

struct LoadedPlugin {
    std::string name;
    fs::path path;
    std::shared_ptr<boost::dll::shared_library> library;
    const parley_plugin_desc *desc = nullptr;
    std::vector<const parley_component *> components;

    const parley_component *find(std::string_view component) const;
    std::string abi_version() const;
};

struct PluginRejection {
    fs::path path;
    std::string reason;
};

// Where plugins are looked for, in order (first match of a name wins):
//   --plugin-path flags, $PARLEY_PLUGIN_PATH (colon-separated), the graph's [graph] plugin_path,
//   <exe>/../lib/parley/plugins (install prefix), <exe>/../plugins (build tree).
std::vector<fs::path> plugin_search_path(const std::vector<fs::path> &cli_paths,
                                         const std::vector<fs::path> &graph_paths);

class PluginLoader {
  public:
    explicit PluginLoader(std::vector<fs::path> search_path);

    const std::vector<fs::path> &search_path() const { return search_path_; }
    // Every plugin file in the search path by name (libparley-<name>.so).
    const std::map<std::string, fs::path> &discover();
    // Opens one plugin; on failure returns nullptr and records (and logs) one rejection line.
    const LoadedPlugin *load(const std::string &name);
    // Opens every discovered plugin; failures are recorded and the others still load.
    std::vector<const LoadedPlugin *> load_all();
    // Opens a plugin file directly (tests, `parley inspect path.so`).
    const LoadedPlugin *load_file(const fs::path &path);

    const std::vector<PluginRejection> &rejections() const { return rejections_; }
    // The reason `name` could not be loaded, if it was tried and failed.
    std::optional<std::string> rejection_for(const std::string &name) const;

  private:
    const LoadedPlugin *reject(const fs::path &path, std::string reason);

    std::vector<fs::path> search_path_;
    std::optional<std::map<std::string, fs::path>> discovered_;
    std::map<std::string, std::unique_ptr<LoadedPlugin>> loaded_;
    std::map<std::string, std::string> failed_;
    std::vector<PluginRejection> rejections_;
};

// "libparley-math.so" -> "math"; empty if the file name is not a plugin's.
std::string plugin_name_from_file(const fs::path &path);

} // namespace parley::core
