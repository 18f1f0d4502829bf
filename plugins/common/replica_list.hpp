// Replica discovery shared by the openai and grpc backends: the server URLs a file (one per line)
// or a folder (one file per replica, as `parley serve --register DIR` writes) lists. Re-read by
// the backends while they run.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace parley::common {

// Every URL listed: a file's non-empty lines (after '#' comments), or, for a folder, those of each
// regular file not starting with '.', files in name order. Missing path: empty list. Duplicates
// are dropped (first kept).
inline std::vector<std::string> read_replica_list(const std::filesystem::path &path) {
    namespace fs = std::filesystem;
    auto read_lines = [](const fs::path &file, std::vector<std::string> &out) {
        std::ifstream in(file);
        std::string line;
        while (std::getline(in, line)) {
            line = line.substr(0, line.find('#'));
            const auto b = line.find_first_not_of(" \t\r");
            if (b == std::string::npos) continue;
            out.push_back(line.substr(b, line.find_last_not_of(" \t\r") - b + 1));
        }
    };
    std::vector<std::string> all;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        std::vector<fs::path> files;
        for (auto &e : fs::directory_iterator(path, ec))
            if (e.is_regular_file(ec) && e.path().filename().string().rfind('.', 0) != 0) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (auto &f : files) read_lines(f, all);
    } else if (fs::is_regular_file(path, ec)) {
        read_lines(path, all);
    }
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (auto &u : all)
        if (seen.insert(u).second) out.push_back(u);
    return out;
}

// gRPC targets among `urls`: "grpc://host:port" and bare "host:port" become "host:port";
// http(s):// entries are skipped.
inline std::vector<std::string> grpc_targets(const std::vector<std::string> &urls) {
    std::vector<std::string> out;
    for (auto &u : urls) {
        if (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) continue;
        std::string t = u.rfind("grpc://", 0) == 0 ? u.substr(7) : u;
        while (!t.empty() && t.back() == '/') t.pop_back();
        if (!t.empty()) out.push_back(t);
    }
    return out;
}

// HTTP base URLs among `urls` (grpc:// and bare host:port entries skipped), without a trailing
// "/" or "/v1".
inline std::vector<std::string> http_urls(const std::vector<std::string> &urls) {
    std::vector<std::string> out;
    for (auto u : urls) {
        if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) continue;
        while (!u.empty() && u.back() == '/') u.pop_back();
        if (u.size() >= 3 && u.compare(u.size() - 3, 3, "/v1") == 0) u.resize(u.size() - 3);
        out.push_back(u);
    }
    return out;
}

} // namespace parley::common
