#include <parley/core/run_dir.hpp>
#include <parley/core/summary_table.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace parley::core {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string cell(const json &r, const EvalRun &run) {
    const std::string k = run.headline + "," + run.filter;
    if (!r.contains(k) || !r[k].is_number()) return "-";
    const double m = r[k].get<double>();
    const std::string lo = run.headline + "_ci_lo," + run.filter, hi = run.headline + "_ci_hi," + run.filter;
    if (r.contains(lo) && r.contains(hi)) return fmt::format("{:.3f} [{:.3f}, {:.3f}]", m, r[lo].get<double>(), r[hi].get<double>());
    const std::string se = run.headline + "_stderr," + run.filter;
    return r.contains(se) ? fmt::format("{:.3f} ± {:.3f}", m, r[se].get<double>()) : fmt::format("{:.3f}", m);
}

size_t width(const std::string &s) { // display columns: UTF-8 continuation bytes take none
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string pad(const std::string &s, size_t w) { return s + std::string(w > width(s) ? w - width(s) : 0, ' '); }

} // namespace

std::string summary_table(const std::vector<fs::path> &node_dirs) {
    std::vector<EvalRun> runs;
    for (auto &d : node_dirs)
        if (fs::exists(d / "results.json")) runs.push_back(open_run(d));
    if (runs.empty()) return "";
    std::vector<std::string> domains;
    for (auto &r : runs)
        for (auto &d : r.domains)
            if (std::find(domains.begin(), domains.end(), d) == domains.end()) domains.push_back(d);
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"domain"};
    for (auto &r : runs) header.push_back(fmt::format("{} ({})", r.dir.filename().string(), r.headline));
    rows.push_back(header);
    for (auto &d : domains) {
        std::vector<std::string> row = {d};
        for (auto &r : runs) row.push_back(r.results["results"].contains(d) ? cell(r.results["results"][d], r) : "-");
        rows.push_back(row);
    }
    std::vector<std::string> macro = {"macro average"};
    for (auto &r : runs) macro.push_back(cell(r.results.value("/groups/macro_avg"_json_pointer, json::object()), r));
    rows.push_back(macro);
    std::vector<size_t> w(header.size(), 0);
    for (auto &row : rows)
        for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], width(row[i]));
    std::string out;
    for (size_t k = 0; k < rows.size(); ++k) {
        for (size_t i = 0; i < rows[k].size(); ++i) out += pad(rows[k][i], w[i]) + (i + 1 < rows[k].size() ? "  " : "\n");
        if (k == 0 || k + 2 == rows.size()) {
            for (size_t i = 0; i < w.size(); ++i) out += std::string(w[i], '-') + (i + 1 < w.size() ? "  " : "\n");
        }
    }
    return out;
}

} // namespace parley::core
