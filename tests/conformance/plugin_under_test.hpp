// tests/conformance/plugin_under_test.hpp — the conformance suite's view of the built plugins:
// every libparley-*.so in the plugin folder opened as the host opens it, and its components
// driven through their C tables only (nothing of a plugin's C++ is linked in).
#pragma once

#include <parley/testing.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conformance {

namespace fs = std::filesystem;
using parley::testing::TestHost;
using parley::testing::Value;

// One component of one plugin library.
struct Component {
    std::string plugin; // "mmlu_pro"
    const parley_component *c;
    std::string name() const { return plugin + "/" + c->name; }
    bool declares(const std::string &key) const { return parley::testing::find_param(c, key) != nullptr; }
};

// Every component of `kind` in the built plugin folder (libraries that do not load are reported
// by the loader tests, not here).
inline std::vector<Component> components(const TestHost &host, int32_t kind) {
    std::vector<Component> out;
    std::vector<fs::path> libs;
    std::error_code ec;
    for (auto &e : fs::directory_iterator(PARLEY_PLUGIN_DIR, ec)) {
        const std::string f = e.path().filename().string();
        if (f.rfind("libparley-", 0) == 0 && e.path().extension() == ".so") libs.push_back(e.path());
    }
    std::sort(libs.begin(), libs.end());
    for (auto &lib : libs) {
        const parley_plugin_desc *d = parley::testing::load_plugin(lib.string(), host);
        if (!d) continue;
        for (size_t i = 0; i < d->n_components; ++i)
            if (d->components[i]->kind == kind) out.push_back({d->name, d->components[i]});
    }
    return out;
}

inline std::string text(parley_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }
inline parley_str str(const std::string &s) { return parley_str{s.data(), s.size()}; }

// A domain instance through its C table.
class DomainUnderTest {
  public:
    DomainUnderTest(TestHost &host, const Component &comp, std::map<std::string, Value> cfg = {})
        : vt_(static_cast<const parley_domain_vtable *>(comp.c->vtable)) {
        auto config = host.config(std::move(cfg));
        parley_error err{};
        status_ = vt_->create(host.api(), config.raw(), &self_, &err);
        error_ = err.message;
    }
    ~DomainUnderTest() {
        if (self_) vt_->destroy(self_);
    }
    DomainUnderTest(const DomainUnderTest &) = delete;
    DomainUnderTest &operator=(const DomainUnderTest &) = delete;

    bool created() const { return status_ == PARLEY_OK; }
    const std::string &create_error() const { return error_; }

    struct Result {
        parley_status status;
        std::string text;  // what the call appended, or the error message
    };
    Result load(const std::string &path, bool skip, parley_load_result *lr = nullptr) {
        parley_load_result r = lr ? *lr : parley_load_result{};
        r.struct_size = sizeof r;
        parley_error err{};
        parley_status st = vt_->load(self_, str(path), skip ? 1 : 0, &r, &err);
        if (lr) *lr = r;
        n_ = st == PARLEY_OK ? r.n_items : n_;
        return {st, st == PARLEY_OK ? std::string() : std::string(err.message)};
    }
    size_t size() const { return n_; }
    parley_item_info item(size_t i) const {
        parley_item_info it{};
        it.struct_size = sizeof it;
        parley_error err{};
        vt_->get_item(self_, i, &it, &err);
        return it;
    }
    Result render(size_t i, int32_t what, const std::string &input = "") {
        std::string out;
        parley_error err{};
        parley_status st = vt_->render(self_, i, what, str(input), TestHost::buffer(out), &err);
        return {st, st == PARLEY_OK ? out : std::string(err.message)};
    }
    // The belief `reply` yields, or the error message; `valid` set on success.
    Result extract(size_t i, int32_t mode, const std::string &reply, bool *valid = nullptr) {
        std::string out;
        int32_t v = 0;
        parley_error err{};
        parley_status st = vt_->extract(self_, i, mode, str(reply), TestHost::buffer(out), &v, &err);
        if (valid) *valid = v != 0;
        return {st, st == PARLEY_OK ? out : std::string(err.message)};
    }
    std::optional<double> score(size_t i, const std::string &belief, std::string *error = nullptr) {
        double s = -1;
        parley_error err{};
        if (vt_->score(self_, i, str(belief), &s, &err) != PARLEY_OK) {
            if (error) *error = err.message;
            return std::nullopt;
        }
        return s;
    }
    parley_domain_info info() const {
        parley_domain_info d{};
        d.struct_size = sizeof d;
        parley_error err{};
        vt_->get_info(self_, &d, &err);
        return d;
    }

  private:
    const parley_domain_vtable *vt_;
    void *self_ = nullptr;
    parley_status status_ = PARLEY_ERR_RUNTIME;
    std::string error_;
    size_t n_ = 0;
};

// A domain's sample in the shared data folder: data/<plugin>/, the first file whose name holds
// "sample" (JSON Lines, CSV or JSON), else its test/ folder (MATH's release layout).
inline std::optional<fs::path> sample_data(const std::string &plugin) {
    const fs::path dir = fs::path(PARLEY_SHARED_DIR) / "data" / plugin;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return std::nullopt;
    std::vector<fs::path> files;
    for (auto &e : fs::directory_iterator(dir, ec)) {
        const std::string f = e.path().filename().string(), x = e.path().extension().string();
        if (e.is_regular_file() && f.find("sample") != std::string::npos && (x == ".jsonl" || x == ".csv" || x == ".json"))
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (!files.empty()) return files.front();
    if (fs::is_directory(dir / "test", ec)) return dir / "test";
    return std::nullopt;
}

} // namespace conformance
