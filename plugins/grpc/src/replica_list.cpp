#include "replica_list.hpp"

#include <algorithm>
#include <fstream>
#include <set>

namespace parley::grpc_backend {

namespace fs = std::filesystem;

namespace {
void read_lines(const fs::path &file, std::vector<std::string> &out) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        line = line.substr(0, line.find('#'));
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos) continue;
        out.push_back(line.substr(b, line.find_last_not_of(" \t\r") - b + 1));
    }
}
} // namespace

std::vector<std::string> read_replica_list(const fs::path &path) {
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

std::vector<std::string> grpc_targets(const std::vector<std::string> &urls) {
    std::vector<std::string> out;
    for (auto &u : urls) {
        if (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) continue;
        std::string t = u.rfind("grpc://", 0) == 0 ? u.substr(7) : u;
        while (!t.empty() && t.back() == '/') t.pop_back();
        if (!t.empty()) out.push_back(t);
    }
    return out;
}

} // namespace parley::grpc_backend
