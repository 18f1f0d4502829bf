// The Coral record reader (parley/coral_record.hpp) and the one agreement rule (agree_after):
// the documented fallback policy, field by field.
#include <parley/core/agreement.hpp>
#include <parley/coral_record.hpp>

#include <catch2/catch.hpp>

#include <optional>

using nlohmann::json;
namespace rec = parley::coral_record;
using parley::core::agree_after;
using parley::core::AgreementProfile;

namespace {

json annotated(const std::string &answer, json ext_score, json match_score) {
    return {{"role", "teacher"},
            {"content", "c"},
            {"info",
             {{"status_ok", true},
              {"usage", {{"completion_tokens", 7}}},
              {"extracted_answer", answer},
              {"annotation",
               {{"X", {{"score", ext_score}, {"info", {{"extracted_answer", answer}, {"agreement", true}, {"status_ok", false}}}}},
                {"Y", {{"score", match_score}, {"info", {{"metrics", {{"em", true}}}}}}}}}}}};
}

} // namespace

TEST_CASE("coral_record: absent or mistyped fields read as absent, never throw", "[coral_record]") {
    for (const json &node : {json(nullptr), json("text"), json::object(), json{{"info", 3}}, json{{"role", 1}, {"info", {{"usage", "x"}}}}}) {
        const rec::Turn t(node);
        CHECK(t.role().empty());
        CHECK(t.content() == nullptr);
        CHECK(t.status_ok() == -1);
        CHECK_FALSE(t.completion_tokens());
        CHECK_FALSE(t.stop_conv());
        CHECK(t.siblings() == nullptr);
        CHECK_FALSE(t.extractor());
        CHECK_FALSE(t.matcher());
        CHECK(t.belief() == nullptr);
        CHECK(t.correctness() == 0.0);
    }
    CHECK(rec::turns_of(json{{"conv_result", "x"}}).is_null());
    CHECK(rec::metadata_string(json{{"metadata", {{"init_prompt", 5}}}}, "init_prompt").empty());
}

TEST_CASE("coral_record: raters by shape per turn, or by the record's names", "[coral_record]") {
    json t = annotated("(B)", true, 1);
    const rec::Turn by_shape(t);
    REQUIRE(by_shape.extractor());
    CHECK(*by_shape.extractor().extracted_answer() == "(B)");
    CHECK(by_shape.extractor().agreement());
    CHECK(by_shape.extractor().status_ok() == 0);
    CHECK(by_shape.matcher().score() == 1.0);
    CHECK(by_shape.completion_tokens() == 7.0);
    CHECK(*by_shape.belief() == "(B)");
    json record = {{"conv_result", json::array({json{{"role", "student"}}, t})}};
    const rec::RaterNames names = rec::rater_names(record);
    CHECK(names.extractor == "X");
    CHECK(names.matcher == "Y");
    // Under its name an annotation counts even without its shape (a failed extraction).
    json failed = t;
    failed["info"]["annotation"]["X"] = {{"score", 0}, {"info", {{"status_ok", false}}}};
    CHECK(rec::Turn(failed, &names).extractor());
    CHECK_FALSE(rec::Turn(failed).extractor());
    const rec::RaterNames none;
    CHECK_FALSE(rec::Turn(t, &none).extractor());
}

TEST_CASE("coral_record: a belief needs a non-zero score and a valid answer", "[coral_record]") {
    CHECK(rec::Turn(annotated("(B)", 1.0, 0)).belief() != nullptr);
    CHECK(rec::Turn(annotated("(B)", false, 0)).belief() == nullptr);
    CHECK(rec::Turn(annotated("not sure yet", true, 0)).belief() == nullptr);
    CHECK(rec::Turn(annotated("Error: no letter", true, 0)).belief() == nullptr);
    json no_score = annotated("(B)", true, 0);
    no_score["info"]["annotation"]["X"].erase("score");
    CHECK(rec::Turn(no_score).belief() == nullptr); // absent counts as zero (None)
    CHECK(rec::Turn(annotated("(B)", true, true)).correctness() == 1.0);
    CHECK(rec::Turn(annotated("(B)", true, 0.5)).correctness() == 0.5);
}

TEST_CASE("coral_record: siblings and metrics fallbacks", "[coral_record]") {
    json t = {{"siblings", json::array({1, 2})}};
    REQUIRE(rec::Turn(t).siblings());
    CHECK(rec::Turn(t).siblings()->size() == 2);
    t["info"]["siblings"] = json::array({1});
    CHECK(rec::Turn(t).siblings()->size() == 1); // info.siblings first
    json r = {{"metrics", {{"A-agreement_correctness", 0}, {"B-agreement_correctness", 1}, {"xagreement_correctness", 1}}}};
    REQUIRE(rec::find_metric(r, "agreement_correctness"));
    CHECK(*rec::find_metric(r, "agreement_correctness") == 0); // the first in key order
    r["metrics"]["agreement_correctness"] = true;
    CHECK(*rec::find_metric(r, "agreement_correctness") == true); // an exact key first
    CHECK(rec::find_metric(r, "final_success_rate") == nullptr);
}

TEST_CASE("agree_after: Coral needs the last two turns, Matrix each role's latest belief", "[coral_record][agreement]") {
    // Turn 0 (student, no belief), then teacher/student alternating.
    std::vector<std::string> roles = {"s", "t", "s", "t"};
    std::vector<std::optional<std::string>> beliefs = {std::nullopt, "A", std::nullopt, "A"};
    auto role = [&](size_t k) { return roles[k]; };
    auto belief = [&](size_t k) { return beliefs[k] ? &*beliefs[k] : nullptr; };
    // t:A, s:none, t:A — Coral looks at the last two turns only; Matrix at s's latest valid one.
    CHECK_FALSE(agree_after(3, role, belief, AgreementProfile::Coral));
    CHECK_FALSE(agree_after(3, role, belief, AgreementProfile::Matrix)); // s holds no valid belief
    beliefs[2] = std::string("A"); // (a literal assigned in place: GCC 12's bogus -Wrestrict, bug 105651)
    CHECK(agree_after(2, role, belief, AgreementProfile::Coral));
    CHECK(agree_after(2, role, belief, AgreementProfile::Matrix));
    beliefs[2] = std::string("B");
    beliefs[3] = std::string("B");
    CHECK(agree_after(3, role, belief, AgreementProfile::Coral));
    beliefs = {std::nullopt, "A", "A", std::nullopt};
    CHECK_FALSE(agree_after(3, role, belief, AgreementProfile::Coral));
    CHECK(agree_after(3, role, belief, AgreementProfile::Matrix)); // the latest valid ones still agree
    CHECK_FALSE(agree_after(0, role, belief, AgreementProfile::Matrix));
    roles = {"s", "t", "t", "s"}; // the same speaker twice is no agreement under Coral
    beliefs = {std::nullopt, "A", "A", std::nullopt};
    CHECK_FALSE(agree_after(2, role, belief, AgreementProfile::Coral));
}
