#include <parley/core/records.hpp>

#include <cmath>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace parley::core {

std::vector<nlohmann::json> read_jsonl_for_resume(const fs::path &path) {
    std::vector<nlohmann::json> rows;
    std::ifstream in(path, std::ios::binary);
    if (!in) return rows;
    std::string line;
    std::streamoff good_end = 0, pos = 0;
    while (std::getline(in, line)) {
        bool complete = !in.eof(); // getline at EOF without '\n': a torn line
        pos += static_cast<std::streamoff>(line.size()) + (complete ? 1 : 0);
        if (!complete) break;
        if (line.empty()) {
            good_end = pos;
            continue;
        }
        try {
            rows.push_back(nlohmann::json::parse(line));
            good_end = pos;
        } catch (const nlohmann::json::exception &) {
            break; // corrupt: keep what came before
        }
    }
    in.close();
    std::error_code ec;
    if (static_cast<std::uintmax_t>(good_end) < fs::file_size(path, ec) && !ec) fs::resize_file(path, good_end, ec);
    return rows;
}

JsonlAppender::JsonlAppender(const fs::path &path) : path_(path) {
    fs::create_directories(path.parent_path());
    f_ = std::fopen(path.c_str(), "ab");
    if (!f_) throw std::runtime_error("cannot open " + path.string() + " for writing");
}

JsonlAppender::~JsonlAppender() {
    if (f_) std::fclose(f_);
}

void JsonlAppender::append(const nlohmann::json &row) {
    std::string s = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    s += '\n';
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size() || std::fflush(f_) != 0)
        throw std::runtime_error("cannot write " + path_.string());
}

void JsonlAppender::append_line(std::string_view json) {
    // One fwrite of line + '\n' keeps a crash from leaving half a record followed by the next.
    buffer_.assign(json);
    buffer_ += '\n';
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), f_) != buffer_.size() || std::fflush(f_) != 0)
        throw std::runtime_error("cannot write " + path_.string());
}

void write_json_atomic(const fs::path &path, const nlohmann::json &doc) {
    fs::create_directories(path.parent_path());
    fs::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, path);
}

double mean_stderr(const std::vector<double> &v) {
    if (v.size() < 2) return 0.0;
    double mean = 0;
    for (double x : v) mean += x;
    mean /= v.size();
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    return std::sqrt(ss / (v.size() - 1) / v.size());
}

nlohmann::json provenance() {
    char date[64];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    return {{"parley_version", PARLEY_VERSION}, {"git_hash", PARLEY_GIT_HASH}, {"date", date}, {"host", host}};
}

} // namespace parley::core
