// The domain conformance suite: every domain component of every built plugin, through its C table,
// on its sample in the shared data folder (data/<plugin>/). A new domain gets these checks for
// nothing; its own tests keep what is special to it.
#include "plugin_under_test.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace conformance;

namespace {

// The domains that have a sample; each test case skips itself when there is none.
#define NO_DOMAIN "no domain plugin with a sample in " PARLEY_SHARED_DIR "/data is built"
std::vector<std::pair<Component, fs::path>> domains(const TestHost &host) {
    std::vector<std::pair<Component, fs::path>> out;
    for (auto &c : components(host, PARLEY_KIND_DOMAIN))
        if (auto s = sample_data(c.plugin)) out.emplace_back(c, *s);
    return out;
}

std::string read_text(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// How an extractor reply states an answer, tried in turn: a letter in parentheses (multiple
// choice), a LaTeX box (MATH), the bare answer (free-form).
const std::vector<std::pair<const char *, std::string (*)(const std::string &)>> kReplyForms = {
    {"(X)", [](const std::string &a) { return "(" + a + ")"; }},
    {"$\\boxed{X}$", [](const std::string &a) { return "$\\boxed{" + a + "}$"; }},
    {"X", [](const std::string &a) { return a; }},
};

std::optional<double> score_reply(DomainUnderTest &d, size_t i, const std::string &reply) {
    auto b = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, reply);
    if (b.status != PARLEY_OK) return std::nullopt;
    return d.score(i, b.text);
}

std::string wrong_answer(const std::string &gold) {
    if (gold.size() == 1 && gold[0] >= 'A' && gold[0] <= 'Z') return gold == "A" ? "B" : "A";
    return "zzqx 123456789";
}

// A copy of the sample with one row broken, and the file the error must name.
struct Broken {
    fs::path data, file;
};
Broken break_sample(const fs::path &sample, const fs::path &dir) {
    if (fs::is_directory(sample)) {
        fs::copy(sample, dir / "data", fs::copy_options::recursive);
        std::vector<fs::path> files;
        for (auto &e : fs::recursive_directory_iterator(dir / "data"))
            if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        const fs::path f = files.at(files.size() / 2);
        const std::string t = read_text(f);
        std::ofstream(f, std::ios::binary | std::ios::trunc) << t.substr(0, t.size() / 2);
        return {dir / "data", f};
    }
    // A file: a line "x" after its first (a CSV header, a JSON Lines row, a JSON document's "{"):
    // a row of one field, a line that is not JSON, a JSON syntax error.
    const std::string t = read_text(sample);
    const size_t eol = t.find('\n');
    const fs::path f = dir / sample.filename();
    std::ofstream(f, std::ios::binary) << t.substr(0, eol + 1) + "x\n" + t.substr(eol + 1);
    return {f, f};
}

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string &tag) {
        std::string t = (fs::temp_directory_path() / ("parley-conf-" + tag + "-XXXXXX")).string();
        REQUIRE(mkdtemp(t.data()));
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// The item texts a sensitive domain must never log: every string value of 16 characters or more
// in an item's metadata (the question, the options, ...), ids excluded.
std::set<std::string> item_texts(DomainUnderTest &d) {
    std::set<std::string> out;
    for (size_t i = 0; i < d.size(); ++i) {
        auto it = d.item(i);
        auto meta = nlohmann::json::parse(text(it.metadata_json), nullptr, false);
        if (!meta.is_object()) continue;
        for (auto &[k, v] : meta.items())
            if (v.is_string() && v.get<std::string>().size() >= 16 && v.get<std::string>() != text(it.id)) out.insert(v.get<std::string>());
    }
    return out;
}

} // namespace

TEST_CASE("domains: the sample loads, ids are unique, every item has a gold answer and JSON metadata", "[conformance][domain]") {
    TestHost host;
    const auto all = domains(host);
    if (all.empty()) PARLEY_SKIP(NO_DOMAIN);
    for (auto &[c, sample] : all) {
        CAPTURE(c.name(), sample.string());
        DomainUnderTest d(host, c);
        REQUIRE(d.created());
        parley_load_result lr{};
        auto r = d.load(sample.string(), false, &lr);
        INFO(r.text);
        REQUIRE(r.status == PARLEY_OK);
        CHECK(lr.n_items > 0);
        CHECK(lr.n_skipped == 0);
        std::set<std::string> ids;
        for (size_t i = 0; i < d.size(); ++i) {
            auto it = d.item(i);
            CAPTURE(text(it.id));
            CHECK(it.id.size > 0);
            CHECK(ids.insert(text(it.id)).second);
            CHECK(it.gold.size > 0);
            CHECK(nlohmann::json::parse(text(it.metadata_json), nullptr, false).is_object());
        }
        // A second load replaces the items (the same count, not twice as many).
        REQUIRE(d.load(sample.string(), false, &lr).status == PARLEY_OK);
        CHECK(lr.n_items == ids.size());
    }
}

TEST_CASE("domains: the gold answer scores 1 and a wrong answer 0, on every item", "[conformance][domain]") {
    TestHost host;
    const auto all = domains(host);
    if (all.empty()) PARLEY_SKIP(NO_DOMAIN);
    for (auto &[c, sample] : all) {
        for (const char *profile : {"coral", "fixed"}) {
            if (!c.declares("profile") && std::string(profile) == "fixed") continue;
            CAPTURE(c.name(), profile);
            DomainUnderTest d(host, c, c.declares("profile") ? std::map<std::string, Value>{{"profile", std::string(profile)}}
                                                             : std::map<std::string, Value>{});
            REQUIRE(d.created());
            REQUIRE(d.load(sample.string(), false).status == PARLEY_OK);
            // The form that states every item's gold answer (the first such; else the one that
            // states the most, whose failures are then reported below).
            std::string (*form)(const std::string &) = nullptr;
            size_t best = 0;
            for (auto &[name, f] : kReplyForms) {
                size_t n = 0;
                for (size_t i = 0; i < d.size(); ++i) n += score_reply(d, i, f(text(d.item(i).gold))) == 1.0;
                if (n > best || !form) best = n, form = f;
                if (n == d.size()) break;
            }
            // The corrected profile decides where a domain has profiles: under "coral" the official
            // matchers' quirks stay (ExploreToM's gold "back office of the vet shop" loses its
            // "the" and no longer matches; any text without " not " matches a "knows about"
            // target), so there the scores need only be 0 or 1.
            const bool decides = std::string(profile) == "fixed" || !c.declares("profile");
            for (size_t i = 0; i < d.size(); ++i) {
                const std::string gold = text(d.item(i).gold);
                CAPTURE(text(d.item(i).id));
                bool valid = false;
                auto b = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, form(gold), &valid);
                REQUIRE(b.status == PARLEY_OK);
                CHECK(valid);
                bool unsure_valid = true; // "not sure yet" is no answer
                auto u = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, "not sure yet", &unsure_valid);
                CHECK(u.status == PARLEY_OK);
                CHECK_FALSE(unsure_valid);
                const auto gold_score = d.score(i, b.text), wrong_score = score_reply(d, i, form(wrong_answer(gold))),
                           unsure_score = d.score(i, u.text);
                if (decides) {
                    CHECK(gold_score == 1.0);
                    CHECK(wrong_score == 0.0);
                    CHECK(unsure_score == 0.0);
                } else {
                    for (auto &sc : {gold_score, wrong_score, unsure_score}) CHECK((sc == 0.0 || sc == 1.0));
                }
            }
        }
    }
}

TEST_CASE("domains: every text kind renders or is refused cleanly; unknown kinds and modes are refused", "[conformance][domain]") {
    TestHost host;
    const auto all = domains(host);
    if (all.empty()) PARLEY_SKIP(NO_DOMAIN);
    for (auto &[c, sample] : all) {
        CAPTURE(c.name());
        DomainUnderTest d(host, c);
        REQUIRE(d.load(sample.string(), false).status == PARLEY_OK);
        for (size_t i : {size_t(0), d.size() - 1}) {
            for (int32_t what = PARLEY_TEXT_TASK; what <= PARLEY_TEXT_EXTRACTOR_PROMPT; ++what) {
                CAPTURE(i, what);
                auto r = d.render(i, what, "The final answer is 42.");
                CHECK((r.status == PARLEY_OK || r.status == PARLEY_ERR_UNSUPPORTED));
                CHECK_FALSE(r.text.empty()); // the text, or the reason it is refused
            }
            // Every domain has a task message, a system prompt and an extractor prompt.
            for (int32_t what : {int32_t(PARLEY_TEXT_TASK), int32_t(PARLEY_TEXT_SYSTEM_COLLABORATE), int32_t(PARLEY_TEXT_SYSTEM_COT), int32_t(PARLEY_TEXT_EXTRACTOR_PROMPT)})
                CHECK(d.render(i, what, "x").status == PARLEY_OK);
            // The extractor prompt shows the turn it reads.
            CHECK(d.render(i, PARLEY_TEXT_EXTRACTOR_PROMPT, "UNIQUE-TURN-7731").text.find("UNIQUE-TURN-7731") != std::string::npos);
            for (int32_t what : {int32_t(PARLEY_TEXT_INVALID), int32_t(99)}) {
                auto r = d.render(i, what, "");
                CHECK(r.status != PARLEY_OK);
                CHECK_FALSE(r.text.empty());
            }
            CHECK(d.extract(i, PARLEY_EXTRACT_INVALID, "x").status != PARLEY_OK);
            CHECK(d.extract(i, 42, "x").status != PARLEY_OK);
        }
        // Past the last item: an error, not a crash.
        CHECK(d.render(d.size(), PARLEY_TEXT_TASK).status == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(d.extract(d.size(), PARLEY_EXTRACT_RULE, "x").status == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK_FALSE(d.score(d.size(), "x"));
    }
}

TEST_CASE("domains: a malformed row fails the load naming file:line, and the items held stay", "[conformance][domain]") {
    TestHost host;
    const auto all = domains(host);
    if (all.empty()) PARLEY_SKIP(NO_DOMAIN);
    for (auto &[c, sample] : all) {
        CAPTURE(c.name());
        TempDir tmp(c.plugin);
        const Broken b = break_sample(sample, tmp.path);
        DomainUnderTest d(host, c);
        REQUIRE(d.load(sample.string(), false).status == PARLEY_OK);
        const size_t held = d.size();
        parley_load_result lr{};
        lr.n_items = 12345;
        auto r = d.load(b.data.string(), false, &lr);
        INFO(r.text);
        CHECK(r.status == PARLEY_ERR_PARSE);
        const std::string where = b.file.string() + ":";
        const size_t at = r.text.find(where);
        REQUIRE(at != std::string::npos);
        CHECK(std::isdigit(static_cast<unsigned char>(r.text[at + where.size()]))); // file:line
        CHECK(lr.n_items == 12345);                                                  // out-parameter untouched
        CHECK(d.size() == held);
        CHECK(d.render(held - 1, PARLEY_TEXT_TASK).status == PARLEY_OK); // the old items still answer
        CHECK(d.load((tmp.path / "no-such-file").string(), false).status != PARLEY_OK);
    }
}

TEST_CASE("domains: the text of a sensitive domain never reaches the log or an error message", "[conformance][domain]") {
    TestHost host;
    size_t sensitive = 0;
    const auto all = domains(host);
    if (all.empty()) PARLEY_SKIP(NO_DOMAIN);
    for (auto &[c, sample] : all) {
        DomainUnderTest d(host, c);
        REQUIRE(d.load(sample.string(), false).status == PARLEY_OK);
        if (!d.info().sensitive_text) continue;
        ++sensitive;
        CAPTURE(c.name()); // names only: nothing of the items goes into this test's output
        const std::set<std::string> secrets = item_texts(d);
        REQUIRE_FALSE(secrets.empty());
        std::vector<std::string> said; // every error message the domain gave
        TempDir tmp(c.plugin);
        const Broken b = break_sample(sample, tmp.path);
        said.push_back(d.load(b.data.string(), false).text);
        said.push_back(d.load(b.data.string(), true).text); // skipped rows are logged
        REQUIRE(d.load(sample.string(), false).status == PARLEY_OK);
        for (size_t i = 0; i < d.size(); ++i) {
            for (int32_t what : {int32_t(PARLEY_TEXT_TASK_TEACHER_FIRST), int32_t(99)})
                if (auto r = d.render(i, what); r.status != PARLEY_OK) said.push_back(r.text);
            said.push_back(d.extract(i, 42, "x").text);
            std::string e;
            d.score(d.size(), "x", &e);
            said.push_back(e);
        }
        size_t leaks = 0;
        for (auto &s : secrets) {
            for (auto &m : said) leaks += m.find(s) != std::string::npos;
            for (auto &l : host.logs()) leaks += l.find(s) != std::string::npos;
        }
        CHECK(leaks == 0);
    }
    if (sensitive == 0) PARLEY_SKIP("no built domain declares sensitive_text");
}
