#include <parley/core/records.hpp>

#include <cmath>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
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

JsonlAppender::JsonlAppender(const fs::path &path, std::chrono::milliseconds max_delay, size_t max_bytes)
    : path_(path), max_delay_(max_delay), max_bytes_(max_bytes) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + " for writing: " + std::strerror(errno));
}

JsonlAppender::~JsonlAppender() {
    try {
        flush();
    } catch (const std::exception &) {
        // reported by the explicit flush() of a run that finishes; a resumed run redoes the rest
    }
    if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const nlohmann::json &row) {
    append_line(row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void JsonlAppender::append_line(std::string_view json) {
    const auto now = std::chrono::steady_clock::now();
    if (pending_.empty()) oldest_ = now;
    pending_.append(json);
    pending_ += '\n';
    if (pending_.size() >= max_bytes_ || now - oldest_ >= max_delay_) flush();
}

void JsonlAppender::poll() {
    if (!pending_.empty() && std::chrono::steady_clock::now() - oldest_ >= max_delay_) flush();
}

void JsonlAppender::flush() {
    size_t done = 0;
    while (done < pending_.size()) {
        const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            pending_.erase(0, done);
            throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(errno));
        }
        done += static_cast<size_t>(n);
    }
    pending_.clear();
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
