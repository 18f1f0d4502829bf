// What `parley report` embeds: a summary (results.json, metrics.json and timeline of every
// evaluation node of every run), a columnar index of all conversations (what the viewer lists and
// filters without decompressing anything else) and the conversations themselves in chunks.
#pragma once

#include <parley/core/report.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace parley::core::report {

struct ReportData {
    nlohmann::json summary = nlohmann::json::object();
    nlohmann::json index = nlohmann::json::object();
    std::vector<std::string> chunks; // gzip+base64 of a JSON array of conversations each
    size_t conversations = 0;
};

ReportData collect(const ReportOptions &options);

} // namespace parley::core::report
