#include <parley/core/records.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using parley::core::JsonlAppender;
using parley::core::read_jsonl_for_resume;

TEST_CASE("a torn last line left by a crash is cut off on resume", "[records]") {
    fs::path p = fs::temp_directory_path() / ("parley-records-" + std::to_string(::getpid()) + ".jsonl");
    fs::remove(p);
    {
        JsonlAppender w(p);
        w.append({{"id", "a"}});
        w.append({{"id", "b"}});
    }
    { std::ofstream(p, std::ios::app) << "{\"id\": \"c\", \"resp"; } // killed mid-write
    auto rows = read_jsonl_for_resume(p);
    REQUIRE(rows.size() == 2);
    CHECK(rows[1]["id"].get<std::string>() == "b");
    {
        JsonlAppender w(p);
        w.append({{"id", "c"}});
    }
    rows = read_jsonl_for_resume(p);
    REQUIRE(rows.size() == 3);
    CHECK(rows[2]["id"].get<std::string>() == "c");
    fs::remove(p);
}

TEST_CASE("standard error of a mean matches lm-evaluation-harness", "[records]") {
    // mean_stderr = stdev(ddof=1) / sqrt(n)
    CHECK(parley::core::mean_stderr({1, 0, 1, 0}) == Approx(0.288675).epsilon(1e-5));
    CHECK(parley::core::mean_stderr({1}) == 0.0);
}
