// The report file: the page template with its style, script and data inlined.
#include "encode.hpp"
#include "report_data.hpp"

#include <parley/core/log.hpp>
#include <parley/core/report.hpp>

#include <fmt/format.h>

#include <fstream>

namespace parley::core {

namespace fs = std::filesystem;

namespace report {
// Generated from src/report/assets/ (core/CMakeLists.txt).
extern const char *const kTemplateHtml, *const kStyleCss, *const kScriptJs;
} // namespace report

namespace {

void replace_once(std::string &text, const std::string &marker, const std::string &with) {
    const size_t p = text.find(marker);
    if (p == std::string::npos) throw std::logic_error("report template: no " + marker);
    text.replace(p, marker.size(), with);
}

} // namespace

ReportSummary write_report(const ReportOptions &o) {
    if (o.runs.empty()) throw std::runtime_error("usage: parley report RUN_DIR [RUN_DIR ...] -o report.html [--show-sensitive]");
    report::ReportData data = report::collect(o);
    std::string data_html = fmt::format("<script type=\"application/json\" id=\"parley-summary\">{}</script>\n",
                                        report::script_safe(data.summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    data_html += fmt::format("<script type=\"text/plain\" id=\"parley-index\">{}</script>\n",
                             report::base64(report::gzip(data.index.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))));
    for (size_t i = 0; i < data.chunks.size(); ++i)
        data_html += fmt::format("<script type=\"text/plain\" id=\"parley-chunk-{}\">{}</script>\n", i, data.chunks[i]);
    std::string page = report::kTemplateHtml;
    replace_once(page, "/*PARLEY_STYLE*/", report::kStyleCss);
    replace_once(page, "<!--PARLEY_DATA-->", data_html);
    replace_once(page, "/*PARLEY_SCRIPT*/", report::kScriptJs);
    if (o.out.has_parent_path()) fs::create_directories(o.out.parent_path());
    const fs::path tmp = o.out.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error(fmt::format("{}: cannot write", o.out.string()));
        out << page;
    }
    fs::rename(tmp, o.out);
    ReportSummary s{data.conversations, data.chunks.size(), page.size()};
    logger().info("report: {} conversations from {} run(s) in {} ({:.1f} MB)", s.conversations, o.runs.size(), o.out.string(),
                  s.bytes / 1e6);
    return s;
}

} // namespace parley::core
