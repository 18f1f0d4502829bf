// parley compare, the end-of-run table, the progress timeline and parley report's data, on run
// folders written here (a CoT run's samples and a Coral run's records, as the nodes lay them out).
#include <parley/core/compare.hpp>
#include <parley/core/progress.hpp>
#include <parley/core/report.hpp>
#include <parley/core/run_dir.hpp>
#include <parley/core/summary_table.hpp>

#include "report/encode.hpp"
#include "report/report_data.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>

using namespace parley::core;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path temp_dir(const std::string &name) {
    fs::path d = fs::temp_directory_path() / ("parley-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

void write(const fs::path &file, const std::string &text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

// A CoT node folder: samples_<domain>.jsonl with `correct` per item (trial 0).
void cot_run(const fs::path &dir, const std::string &domain, const std::vector<int> &correct) {
    std::string rows;
    double sum = 0;
    for (size_t i = 0; i < correct.size(); ++i) {
        rows += json{{"id", std::to_string(i)}, {"trial", 0}, {"domain", domain}, {"correct", correct[i] == 1},
                     {"response", "answer text"}, {"extracted", "A"}, {"gold", "A"}, {"completion_tokens", 5}}
                    .dump() + "\n";
        sum += correct[i];
    }
    write(dir / ("samples_" + domain + ".jsonl"), rows);
    json r = {{"results", {{domain, {{"final_success_rate,rule_extract", sum / correct.size()},
                                     {"final_success_rate_stderr,rule_extract", 0.1}}}}},
              {"groups", {{"macro_avg", {{"final_success_rate,rule_extract", sum / correct.size()}}}}},
              {"config", {{"evaluation", "core/cot_eval"}}}};
    write(dir / "results.json", r.dump());
}

// A Coral node folder: records with parley.{id,trial} and metrics.<rater>-agreement_correctness.
void coral_run(const fs::path &dir, const std::string &domain, const std::vector<int> &correct, const std::string &text = "a turn") {
    std::string rows;
    for (size_t i = 0; i < correct.size(); ++i) {
        json turn = {{"role", "teacher"}, {"content", text}, {"info", {{"status_ok", true}}}};
        json sibling = turn;
        turn["info"]["siblings"] = json::array({sibling});
        rows += json{{"conv_result", json::array({{{"role", "student"}, {"content", text}}, turn})},
                     {"metrics", {{"X-agreement_correctness", correct[i] == 1}, {"X-agreement", true}, {"conv_len", 9}, {"conv_err", false}}},
                     {"parley", {{"id", std::to_string(i)}, {"trial", 0}, {"domain", domain}, {"gold", "B"}}}}
                    .dump() + "\n";
    }
    write(dir / ("records_" + domain + ".jsonl"), rows);
    json r = {{"results", {{domain, {{"agreement_correctness,none", 0.5}, {"agreement_correctness_ci_lo,none", 0.25},
                                     {"agreement_correctness_ci_hi,none", 0.75}}}}},
              {"groups", {{"macro_avg", {{"agreement_correctness,none", 0.5}}}}},
              {"config", {{"evaluation", "core/coral_eval"}, {"profile", "coral"}}},
              {"configs", {{domain, {{"use", domain + "/domain"}}}}}};
    write(dir / "results.json", r.dump());
}

std::string gunzip(const std::string &gz) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    z.next_out = reinterpret_cast<Bytef *>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

std::string unbase64(const std::string &in) {
    static const std::string a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t v = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        v = (v << 6) | static_cast<uint32_t>(a.find(c));
        if ((bits += 6) >= 8) out += static_cast<char>((v >> (bits -= 8)) & 0xFF);
    }
    return out;
}

} // namespace

TEST_CASE("compare: CoT vs Coral paired by (domain, item, trial), McNemar and the paired interval", "[compare]") {
    const fs::path root = temp_dir("compare");
    cot_run(root / "a" / "cot", "math", {1, 1, 1, 0, 0, 0, 0, 0, 0, 0});
    coral_run(root / "b" / "coral", "math", {1, 1, 1, 1, 1, 1, 1, 1, 1, 0});
    CompareOptions o;
    o.runs = {root / "a", root / "b"}; // graph folders with one evaluation each
    o.bootstrap.resamples = 500;
    const json doc = compare_runs(o);
    const json &m = doc["comparisons"][0]["domains"]["math"];
    CHECK(m["paired"] == 10);
    CHECK(m["a"].get<double>() == Approx(0.3));
    CHECK(m["b"].get<double>() == Approx(0.9));
    CHECK(m["diff"].get<double>() == Approx(0.6));
    CHECK(m["a_only"] == 0);
    CHECK(m["b_only"] == 6);
    CHECK(m["mcnemar_p"].get<double>() == Approx(2.0 / 64)); // binomtest(0, 6)
    CHECK(m["ci_lo"].get<double>() > 0.2);
    CHECK(m["ci_hi"].get<double>() <= 1.0);
    CHECK(doc["comparisons"][0]["macro"]["diff"].get<double>() == Approx(0.6));
    CHECK(doc["comparisons"][0]["a"]["metric"] == "final_success_rate");
    CHECK(doc["comparisons"][0]["b"]["metric"] == "agreement_correctness");
    CHECK(format_comparison(doc).find("macro") != std::string::npos);
    CHECK(run_compare(o) == 0);

    // --fail-if-worse: B as the baseline, A 0.6 worse.
    CompareOptions worse = o;
    worse.runs = {root / "b", root / "a"};
    worse.fail_if_worse = 0.5;
    CHECK(run_compare(worse) == 1);
    worse.fail_if_worse = 0.7;
    CHECK(run_compare(worse) == 0);

    // An item only B has: refused unless allowed.
    coral_run(root / "b" / "coral", "math", {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1});
    CHECK(compare_runs(o)["comparisons"][0]["macro"]["unpaired_b"] == 1);
    CHECK(run_compare(o) == 2);
    o.allow_unpaired = true;
    CHECK(run_compare(o) == 0);
    fs::remove_all(root);
}

TEST_CASE("compare: bad runs are named with file, line and field", "[compare]") {
    const fs::path root = temp_dir("compare-bad");
    cot_run(root / "g" / "cot", "math", {1, 0});
    coral_run(root / "g" / "coral", "math", {1, 0});
    CHECK_THROWS_WITH(open_run(root / "g"), Catch::Contains("holds 2 evaluations; name one"));
    CHECK_THROWS_WITH(open_run(root / "nothing"), Catch::Contains("no such folder"));
    write(root / "g" / "coral" / "records_math.jsonl", "{\"conv_result\": [], \"parley\": {\"trial\": 0}}\n");
    CompareOptions o;
    o.runs = {root / "g" / "cot", root / "g" / "coral"};
    CHECK_THROWS_WITH(compare_runs(o), Catch::Contains("records_math.jsonl:1: field 'parley.id' is missing"));
    fs::remove_all(root);
}

TEST_CASE("end-of-run table: domains x evaluation nodes with intervals, or ± stderr", "[summary]") {
    const fs::path root = temp_dir("summary");
    cot_run(root / "cot", "math", {1, 1, 1, 0});
    coral_run(root / "coral", "math", {1, 0});
    fs::create_directories(root / "filter"); // not an evaluation: left out
    const std::string t = summary_table({root / "cot", root / "filter", root / "coral"});
    CHECK(t.find("cot (final_success_rate)") != std::string::npos);
    CHECK(t.find("coral (agreement_correctness)") != std::string::npos);
    CHECK(t.find("0.750 ± 0.100") != std::string::npos);
    CHECK(t.find("0.500 [0.250, 0.750]") != std::string::npos);
    CHECK(t.find("macro average") != std::string::npos);
    CHECK(summary_table({root / "filter"}).empty());
    fs::remove_all(root);
}

TEST_CASE("progress: a bar on a TTY, a plain line in logs, a timeline for the report", "[progress]") {
    const std::string bar = Progress::line("coral", 5, 10, 2, 100, 10.0, true), plain = Progress::line("coral", 5, 10, 2, 100, 10.0, false);
    CHECK(bar.find("|############............|  50%") != std::string::npos);
    CHECK(plain.find('|' + std::string("#")) == std::string::npos);
    CHECK(plain.find("5/10 done | 2 in flight | 10.0 tok/s") != std::string::npos);
    const fs::path root = temp_dir("timeline");
    Progress::record_timelines_in(root);
    {
        Progress p("node", 10);
        p.update(3, 1, 30);
        p.finish(10, 100);
    }
    Progress::record_timelines_in({});
    std::ifstream in(root / "node" / "timeline.jsonl");
    std::string line, last;
    size_t n = 0;
    while (std::getline(in, line)) last = line, ++n;
    CHECK(n >= 2);
    const json j = json::parse(last);
    CHECK(j["done"] == 10);
    CHECK(j["tokens"] == 100);
    fs::remove_all(root);
}

TEST_CASE("report: sensitive text stays out of the file; chunks and index decode", "[report]") {
    const fs::path root = temp_dir("report");
    const std::string secret = "SECRET-QUESTION-TEXT";
    coral_run(root / "run" / "coral", "gpqa", {1, 0, 1}, secret);
    cot_run(root / "run" / "cot", "math", {1, 0});
    ReportOptions o;
    o.runs = {root / "run"};
    o.chunk = 2;
    auto data = report::collect(o);
    CHECK(data.conversations == 5);
    CHECK(data.chunks.size() == 3);
    CHECK(data.index["n"] == 5);
    CHECK(data.index["sib"][0] == 1);
    CHECK(data.index["agree"][4] == -1); // a CoT sample has no agreement
    CHECK(data.summary["sensitive"]["gpqa"] == true);
    std::string all;
    for (auto &c : data.chunks) all += gunzip(unbase64(c));
    CHECK(all.find(secret) == std::string::npos);
    CHECK(all.find("[text hidden") != std::string::npos);
    CHECK(json::parse(gunzip(unbase64(data.chunks[0]))).size() == 2);

    o.show_sensitive = true;
    auto shown = report::collect(o);
    std::string all_shown;
    for (auto &c : shown.chunks) all_shown += gunzip(unbase64(c));
    CHECK(all_shown.find(secret) != std::string::npos);

    o.show_sensitive = false;
    o.out = root / "report.html";
    const auto s = write_report(o);
    std::ifstream in(o.out);
    const std::string html((std::istreambuf_iterator<char>(in)), {});
    CHECK(s.bytes == html.size());
    CHECK(html.find(secret) == std::string::npos);
    CHECK(html.find("id=\"parley-chunk-2\"") != std::string::npos);
    CHECK(html.find("DecompressionStream") != std::string::npos); // the script is inlined
    CHECK(html.find("<link") == std::string::npos);                // nothing fetched: no stylesheet,
    CHECK(html.find("src=") == std::string::npos);                 // no external script or image
    fs::remove_all(root);
}

TEST_CASE("report: JSON inside <script> cannot close it", "[report]") {
    CHECK(report::script_safe(R"({"a":"</script><!--"})") == R"({"a":"\u003c/script>\u003c!--"})");
    CHECK(report::base64("ab") == "YWI=");
    CHECK(report::base64("abc") == "YWJj");
    CHECK(unbase64(report::base64("hello world")) == "hello world");
}
