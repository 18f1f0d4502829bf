#include <parley/core/json_writer.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <random>

using parley::core::JsonWriter;

TEST_CASE("escaping agrees with nlohmann on valid UTF-8", "[json]") {
    std::mt19937 rng(7);
    const std::vector<std::string> pieces = {"a", "b", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "/", "\x7f",
                                             "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "abcdefghij"};
    for (int round = 0; round < 2000; ++round) {
        std::string s;
        size_t len = rng() % 40;
        for (size_t i = 0; i < len; ++i) s += pieces[rng() % pieces.size()];
        std::string ours;
        JsonWriter::escape(ours, s);
        std::string theirs = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        INFO("round " << round);
        // Both must parse to the same string (they may differ in which escapes they choose).
        CHECK(nlohmann::json::parse(ours) == nlohmann::json::parse(theirs));
    }
}

TEST_CASE("invalid UTF-8 becomes U+FFFD and the output stays valid JSON", "[json]") {
    std::mt19937 rng(11);
    for (int round = 0; round < 5000; ++round) {
        std::string s;
        size_t len = rng() % 24;
        for (size_t i = 0; i < len; ++i) s += static_cast<char>(rng() % 256);
        std::string ours;
        JsonWriter::escape(ours, s);
        INFO("round " << round);
        REQUIRE_NOTHROW(nlohmann::json::parse(ours));
    }
    std::string out;
    JsonWriter::escape(out, "ok\xff\xc3");
    CHECK(nlohmann::json::parse(out).get<std::string>() == "ok\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("long ASCII runs take the word-at-a-time path and stay exact", "[json]") {
    std::string s(1000, 'x');
    s[517] = '"';
    s[803] = '\n';
    std::string out;
    JsonWriter::escape(out, s);
    CHECK(nlohmann::json::parse(out).get<std::string>() == s);
}

TEST_CASE("objects, arrays, numbers and raw splices nest correctly", "[json]") {
    std::string out;
    JsonWriter w(out);
    w.begin_object().key("a").value(int64_t{1}).key("b").begin_array().value(true).value(2.5).value(3.0).null().end_array();
    w.key("c").raw("{\"x\":1}").key("d").value("s").end_object();
    auto j = nlohmann::json::parse(out);
    CHECK(j["a"] == 1);
    CHECK(j["b"][1] == 2.5);
    CHECK(j["b"][2].is_number_float());
    CHECK(j["c"]["x"] == 1);
    CHECK(j["d"] == "s");
}
