// `parley report RUN_DIR [RUN_DIR ...] -o report.html`: one self-contained HTML file (no network:
// styles, script and data inlined) with the per-domain table and its intervals, charts drawn as
// SVG by the page's own script, and a conversation viewer. Conversations are embedded as
// gzip+base64 chunks the page decompresses only when one of them is shown, and the list renders
// one page at a time, so a 100,000-conversation run opens quickly. Text of domains marked
// sensitive (GPQA) is left out of the file unless `show_sensitive`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

struct ReportOptions {
    std::vector<std::filesystem::path> runs; // graph output folders or evaluation node folders
    std::filesystem::path out = "report.html";
    bool show_sensitive = false;
    size_t chunk = 500; // conversations per compressed chunk
};

struct ReportSummary {
    size_t conversations = 0, chunks = 0, bytes = 0;
};

ReportSummary write_report(const ReportOptions &options);

} // namespace parley::core
