#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>
#include <parley/core/plugin_loader.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <set>

namespace parley::core {
namespace {

constexpr std::string_view kPrefix = "libparley-";
constexpr std::string_view kSuffix = ".so";

// The smallest vtable each kind must provide (its ABI 1.0 members).
size_t min_vtable_size(int32_t kind) {
    switch (kind) {
    case PARLEY_KIND_DOMAIN: return offsetof(parley_domain_vtable, get_info) + sizeof(void *);
    case PARLEY_KIND_BACKEND: return offsetof(parley_backend_vtable, get_info) + sizeof(void *);
    case PARLEY_KIND_FILTER: return offsetof(parley_filter_vtable, report) + sizeof(void *);
    case PARLEY_KIND_TRAINER: return offsetof(parley_trainer_vtable, train) + sizeof(void *);
    default: return 0;
    }
}

bool required_members_present(int32_t kind, const void *vt) {
    switch (kind) {
    case PARLEY_KIND_DOMAIN: {
        auto *v = static_cast<const parley_domain_vtable *>(vt);
        return v->create && v->destroy && v->load && v->get_item && v->render && v->extract && v->score && v->get_info;
    }
    case PARLEY_KIND_BACKEND: {
        auto *v = static_cast<const parley_backend_vtable *>(vt);
        return v->create && v->destroy && v->submit && v->cancel && v->get_info;
    }
    case PARLEY_KIND_FILTER: {
        auto *v = static_cast<const parley_filter_vtable *>(vt);
        return v->create && v->destroy && v->push && v->finish && v->report;
    }
    case PARLEY_KIND_TRAINER: {
        auto *v = static_cast<const parley_trainer_vtable *>(vt);
        return v->create && v->destroy && v->train;
    }
    default: return false;
    }
}

// Since 1.4 a component says the stride of its parameter array (param_size). One whose struct
// covers the member was built against a 1.4+ header, so its parley_param is the larger one: a
// zero there cannot be read safely (contract P19).
std::optional<std::string> param_layout_problem(const parley_component &c) {
    if (c.struct_size < offsetof(parley_component, param_size) + sizeof(c.param_size) || c.n_params == 0) return std::nullopt;
    if (c.param_size == 0)
        return "param_size is 0 (a component built against ABI 1.4 or later sets it to sizeof(parley_param))";
    if (c.param_size < offsetof(parley_param, doc) + sizeof(const char *))
        return fmt::format("param_size {} is smaller than a 1.0 parley_param", c.param_size);
    return std::nullopt;
}

} // namespace

std::string plugin_name_from_file(const fs::path &path) {
    std::string f = path.filename().string();
    if (f.size() <= kPrefix.size() + kSuffix.size() || f.rfind(kPrefix, 0) != 0 ||
        f.compare(f.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
        return {};
    return f.substr(kPrefix.size(), f.size() - kPrefix.size() - kSuffix.size());
}

const parley_component *LoadedPlugin::find(std::string_view component) const {
    for (auto *c : components)
        if (component == c->name) return c;
    return nullptr;
}

std::string LoadedPlugin::abi_version() const { return fmt::format("{}.{}", desc->abi_major, desc->abi_minor); }

std::vector<fs::path> plugin_search_path(const std::vector<fs::path> &cli_paths, const std::vector<fs::path> &graph_paths) {
    std::vector<fs::path> out(cli_paths.begin(), cli_paths.end());
    if (const char *env = std::getenv("PARLEY_PLUGIN_PATH")) {
        std::string s(env);
        size_t start = 0;
        while (start <= s.size()) {
            size_t end = s.find(':', start);
            if (end == std::string::npos) end = s.size();
            if (end > start) out.emplace_back(s.substr(start, end - start));
            start = end + 1;
        }
    }
    out.insert(out.end(), graph_paths.begin(), graph_paths.end());
    fs::path exe_dir = boost::dll::program_location().parent_path().string();
    out.push_back(exe_dir / ".." / "lib" / "parley" / "plugins");
    out.push_back(exe_dir / ".." / "plugins");
    for (auto &p : out) {
        std::error_code ec;
        auto canon = fs::weakly_canonical(p, ec);
        if (!ec) p = canon;
    }
    return out;
}

PluginLoader::PluginLoader(std::vector<fs::path> search_path) : search_path_(std::move(search_path)) {}

const std::map<std::string, fs::path> &PluginLoader::discover() {
    if (discovered_) return *discovered_;
    discovered_.emplace();
    for (auto &dir : search_path_) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        std::vector<fs::path> files;
        for (auto &e : fs::directory_iterator(dir, ec))
            if (!plugin_name_from_file(e.path()).empty()) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (auto &f : files) {
            std::string name = plugin_name_from_file(f);
            auto [it, inserted] = discovered_->emplace(name, f);
            if (!inserted && fs::weakly_canonical(it->second, ec) != fs::weakly_canonical(f, ec))
                logger().debug("plugin '{}' at {} is shadowed by {}", name, f.string(), it->second.string());
        }
    }
    return *discovered_;
}

const LoadedPlugin *PluginLoader::reject(const fs::path &path, std::string reason) {
    logger().warn("plugin rejected: {}: {}", path.string(), reason);
    std::string name = plugin_name_from_file(path);
    failed_[name.empty() ? path.string() : name] = reason;
    rejections_.push_back({path, std::move(reason)});
    return nullptr;
}

std::optional<std::string> PluginLoader::rejection_for(const std::string &name) const {
    auto it = failed_.find(name);
    if (it == failed_.end()) return std::nullopt;
    return it->second;
}

const LoadedPlugin *PluginLoader::load(const std::string &name) {
    if (auto it = loaded_.find(name); it != loaded_.end()) return it->second.get();
    if (failed_.count(name)) return nullptr;
    auto &found = discover();
    auto it = found.find(name);
    if (it == found.end()) return nullptr;
    return load_file(it->second);
}

std::vector<const LoadedPlugin *> PluginLoader::load_all() {
    std::vector<const LoadedPlugin *> out;
    for (auto &[name, path] : discover())
        if (auto *p = load(name)) out.push_back(p);
    return out;
}

const LoadedPlugin *PluginLoader::load_file(const fs::path &path) {
    std::string file_name = plugin_name_from_file(path);
    if (auto it = loaded_.find(file_name); !file_name.empty() && it != loaded_.end()) return it->second.get();

    auto lib = std::make_shared<boost::dll::shared_library>();
    boost::system::error_code ec;
    // RTLD_LOCAL keeps plugins' symbols from colliding; RTLD_NOW surfaces missing symbols here.
    lib->load(path.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec) return reject(path, "cannot open: " + ec.message());
    if (!lib->has(PARLEY_PLUGIN_ENTRY))
        return reject(path, fmt::format("missing entry symbol '{}' (not a Parley plugin?)", PARLEY_PLUGIN_ENTRY));

    auto init = lib->get<const parley_plugin_desc *(const parley_host_api *, parley_error *)>(PARLEY_PLUGIN_ENTRY);
    parley_error err{};
    const parley_plugin_desc *desc = nullptr;
    try {
        desc = init(host_api(), &err);
    } catch (const std::exception &e) {
        return reject(path, fmt::format("'{}' threw an exception: {}", PARLEY_PLUGIN_ENTRY, e.what()));
    } catch (...) {
        return reject(path, fmt::format("'{}' threw an exception", PARLEY_PLUGIN_ENTRY));
    }
    if (!desc)
        return reject(path, fmt::format("initialisation failed: {}", err.message[0] ? err.message : "no reason given"));
    if (desc->struct_size < offsetof(parley_plugin_desc, n_components) + sizeof(size_t))
        return reject(path, fmt::format("descriptor too small ({} bytes)", desc->struct_size));
    if (desc->abi_major != PARLEY_ABI_MAJOR)
        return reject(path, fmt::format("built for ABI {}.{}, the host speaks {}.{} (the major version must match)",
                                        desc->abi_major, desc->abi_minor, PARLEY_ABI_MAJOR, PARLEY_ABI_MINOR));
    if (desc->abi_minor > PARLEY_ABI_MINOR)
        return reject(path, fmt::format("built for ABI {}.{}, newer than the host's {}.{} (upgrade Parley)",
                                        desc->abi_major, desc->abi_minor, PARLEY_ABI_MAJOR, PARLEY_ABI_MINOR));
    if (!desc->name || !desc->version) return reject(path, "descriptor lacks a name or version");
    if (!file_name.empty() && file_name != desc->name)
        return reject(path, fmt::format("declares the name '{}' but the file is named for '{}'", desc->name, file_name));

    auto plugin = std::make_unique<LoadedPlugin>();
    plugin->name = desc->name;
    plugin->path = path;
    plugin->library = lib;
    plugin->desc = desc;
    std::set<std::string> names;
    for (size_t i = 0; i < desc->n_components; ++i) {
        const parley_component *c = desc->components ? desc->components[i] : nullptr;
        if (!c || c->struct_size < offsetof(parley_component, vtable) + sizeof(void *) || !c->name)
            return reject(path, fmt::format("component #{} is malformed", i));
        size_t need = min_vtable_size(c->kind);
        if (c->kind == PARLEY_KIND_TRAINER && desc->abi_minor < 1) need = 0; // trainers exist since 1.1
        if (need == 0) return reject(path, fmt::format("component '{}' has unknown kind {}", c->name, c->kind));
        if (!c->vtable || *static_cast<const uint32_t *>(c->vtable) < need || !required_members_present(c->kind, c->vtable))
            return reject(path, fmt::format("component '{}' has an incomplete function table", c->name));
        if (!names.insert(c->name).second)
            return reject(path, fmt::format("component name '{}' appears twice", c->name));
        if (auto why = param_layout_problem(*c)) return reject(path, fmt::format("component '{}': {}", c->name, *why));
        plugin->components.push_back(c);
    }
    logger().debug("loaded plugin {} {} (ABI {}) from {}", plugin->name, desc->version, plugin->abi_version(), path.string());
    auto *raw = plugin.get();
    loaded_[plugin->name] = std::move(plugin);
    return raw;
}

} // namespace parley::core
