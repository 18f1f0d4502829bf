#include <parley/core/plugin_loader.hpp>

#include <catch2/catch.hpp>

using parley::core::PluginLoader;

namespace {
std::string fixture(const std::string &name) { return std::string(PARLEY_FIXTURE_DIR) + "/libparley-" + name + ".so"; }

std::string rejection(PluginLoader &loader, const std::string &name) {
    REQUIRE(loader.load_file(fixture(name)) == nullptr);
    REQUIRE(!loader.rejections().empty());
    auto &r = loader.rejections().back();
    CHECK(r.path.string().find("libparley-" + name + ".so") != std::string::npos);
    return r.reason;
}
} // namespace

TEST_CASE("a well-formed plugin loads with its components", "[loader]") {
    PluginLoader loader({PARLEY_FIXTURE_DIR});
    auto *p = loader.load("fixture_good");
    REQUIRE(p);
    CHECK(p->name == "fixture_good");
    CHECK(p->abi_version() == "1.0");
    REQUIRE(p->find("domain"));
    CHECK(p->find("domain")->kind == PARLEY_KIND_DOMAIN);
    CHECK(loader.load("fixture_good") == p); // opened once
}

TEST_CASE("a plugin built for a newer ABI major is refused, naming both versions", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_newer_major");
    CHECK(why.find("built for ABI 2.0") != std::string::npos);
    CHECK(why.find("major version must match") != std::string::npos);
}

TEST_CASE("a plugin built for a newer minor is refused", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_newer_minor");
    CHECK(why.find("newer than the host's 1." + std::to_string(PARLEY_ABI_MINOR)) != std::string::npos);
}

TEST_CASE("a library without the entry symbol is refused", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_missing_symbol");
    CHECK(why.find("missing entry symbol 'parley_plugin_init'") != std::string::npos);
}

TEST_CASE("an entry point that throws is refused and the host survives", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_throws");
    CHECK(why.find("threw an exception: fixture exception from init") != std::string::npos);
}

TEST_CASE("an entry point that returns an error is refused with its message", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_init_error");
    CHECK(why.find("initialisation failed: fixture: required device not present") != std::string::npos);
}

TEST_CASE("a descriptor whose name differs from its file is refused", "[loader]") {
    PluginLoader loader({});
    auto why = rejection(loader, "fixture_wrong_name");
    CHECK(why.find("declares the name 'somebody_else'") != std::string::npos);
}

TEST_CASE("loading everything keeps the good plugins when others fail", "[loader]") {
    PluginLoader loader({PARLEY_FIXTURE_DIR});
    auto loaded = loader.load_all();
    std::vector<std::string> names;
    for (auto *p : loaded) names.push_back(p->name);
    CHECK(std::find(names.begin(), names.end(), "fixture_good") != names.end());
    CHECK(std::find(names.begin(), names.end(), "fixture_create_error") != names.end());
    // newer_major, newer_minor, missing_symbol, throws, init_error, wrong_name
    CHECK(loader.rejections().size() == 6);
}

TEST_CASE("plugin file names map to plugin names", "[loader]") {
    using parley::core::plugin_name_from_file;
    CHECK(plugin_name_from_file("/x/libparley-math.so") == "math");
    CHECK(plugin_name_from_file("libparley-.so").empty());
    CHECK(plugin_name_from_file("libfoo.so").empty());
    CHECK(plugin_name_from_file("libparley-math.so.1").empty());
}
