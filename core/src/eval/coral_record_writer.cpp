#include "coral_record_writer.hpp"

#include <parley/core/json_writer.hpp>

namespace parley::core::eval {

std::string short_model_name(const std::string &model) {
    std::string s = model.substr(model.find_last_of('/') == std::string::npos ? 0 : model.find_last_of('/') + 1);
    for (char &c : s)
        if (c == '-' || c == '.') c = '_';
    return s.empty() ? "model" : s;
}

CoralRecordFormat::CoralRecordFormat(const DomainInfo &d, const std::string &extractor_model, const CoralConfig &config)
    : config_(config), score_type_(d.score_json_type) {
    const std::string extractor_class = d.extractor_name.empty() ? "ExtractionPromptingEvaluator" : d.extractor_name;
    names_.extractor = (config.llm_extraction ? short_model_name(extractor_model) : std::string("RuleBased")) + "-" + extractor_class;
    names_.matcher = d.matcher_name.empty() ? "MatchEvaluator" : d.matcher_name;
    annotation_open_ = ",\"annotation\":{";
    JsonWriter::escape(annotation_open_, names_.extractor);
    annotation_open_ += ":{\"score\":";
    matcher_open_ = "}},";
    JsonWriter::escape(matcher_open_, names_.matcher);
    matcher_open_ += ":{\"score\":";
    for (auto &r : config.roles) {
        role_open_.emplace_back("{\"role\":");
        JsonWriter::escape(role_open_.back(), r.name);
        role_open_.back() += ",\"content\":";
    }
}

void CoralRecordFormat::facts(const CoralEpisode &e, std::vector<TurnFacts> &out) const {
    out.clear();
    const auto &turns = e.turns();
    for (size_t i = 0; i < turns.size(); ++i) {
        const CoralTurn &t = turns[i];
        TurnFacts f;
        f.role = config_.roles[t.role].name;
        f.status_ok = i == 0 ? -1 : (t.status_ok ? 1 : 0);
        f.completion_tokens = t.status_ok ? t.completion_tokens : 0;
        if (t.annotated) {
            f.has_answer = f.ext_has_answer = true;
            f.answer = f.ext_answer = *t.belief;
            f.ext_annotated = f.m_annotated = true;
            f.ext_score = t.valid ? 1.0 : 0.0;
            f.ext_status_ok = t.extractor_ok ? 1 : 0;
            f.m_score = t.score;
            f.m_status_ok = 1;
        }
        out.push_back(f);
    }
}

namespace {
void put_bool(std::string &o, bool b) { o += b ? "true" : "false"; }
} // namespace

void CoralRecordFormat::put_score(std::string &o, float score) const {
    if (score_type_ == PARLEY_SCORE_JSON_BOOL) put_bool(o, score >= 1.0f);
    else if (score_type_ == PARLEY_SCORE_JSON_INT) JsonWriter(o).value(static_cast<int64_t>(score));
    else JsonWriter(o).value(static_cast<double>(score));
}

// The extractor's and the matcher's annotations of a turn, and the turn's copy of the belief.
void CoralRecordFormat::write_annotation(const CoralTurn &t, std::string &o) const {
    o += annotation_open_;
    if (t.extractor_ok) put_bool(o, t.valid);
    else o += "0.0"; // extraction_evaluators.py: a failed extractor call scores the float 0.0
    o += ",\"info\":{\"prompt\":";
    JsonWriter::escape(o, t.extractor ? std::string_view(t.extractor->prompt) : std::string_view());
    o += ",\"response\":";
    JsonWriter::escape(o, t.extractor ? std::string_view(t.extractor->response) : std::string_view());
    o += ",\"extracted_answer\":";
    JsonWriter::escape(o, *t.belief);
    o += ",\"agreement\":";
    put_bool(o, t.agreement);
    o += ",\"status_ok\":";
    put_bool(o, t.extractor_ok);
    o += matcher_open_;
    put_score(o, t.score);
    o += ",\"info\":{\"metrics\":{\"em\":";
    put_score(o, t.score);
    o += "},\"status_ok\":true}}},\"extracted_answer\":";
    JsonWriter::escape(o, *t.belief);
}

// One turn in Coral's shape. Tree sampling: every candidate carries the whole request's usage, as
// Coral records it; the candidate's own count is in Parley's block (null: unknown).
void CoralRecordFormat::write_turn(const CoralTurn &t, bool first, std::string &o) const {
    const bool tree = config_.beam > 1;
    o += role_open_[t.role];
    JsonWriter::escape(o, t.content);
    o += ",\"info\":{";
    if (first) {
        o += "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0,\"completion_tokens\":0}";
    } else if (!t.status_ok) {
        o += "\"status_ok\":false,\"error\":";
        JsonWriter::escape(o, t.content);
    } else {
        o += "\"status_ok\":true,\"usage\":{\"prompt_tokens\":";
        JsonWriter(o).value(int64_t{t.prompt_tokens});
        o += ",\"completion_tokens\":";
        JsonWriter(o).value(int64_t{tree ? t.request_completion_tokens : t.completion_tokens});
        o += "},\"parley\":{\"cached_tokens\":";
        JsonWriter(o).value(int64_t{t.cached_tokens});
        if (tree) {
            o += ",\"completion_tokens\":";
            if (t.completion_tokens < 0) JsonWriter(o).null();
            else JsonWriter(o).value(int64_t{t.completion_tokens});
        }
        o += ",\"finish_reason\":\"";
        o += finish_name(t.finish);
        o += '"';
        if (t.reasoning_tokens != 0) {
            o += ",\"reasoning_tokens\":";
            if (t.reasoning_tokens < 0) JsonWriter(o).null();
            else JsonWriter(o).value(int64_t{t.reasoning_tokens});
        }
        if (t.reasoning && config_.reasoning_records) { // Coral's readers ignore this block
            o += ",\"reasoning\":";
            JsonWriter::escape(o, t.reasoning->text);
        }
        o += '}';
    }
    if (t.annotated) write_annotation(t, o);
    if (tree && !first) {
        o += ",\"stop_conv\":";
        put_bool(o, t.stop_conv);
        if (t.siblings) {
            o += ",\"siblings\":[";
            for (size_t k = 0; k < t.siblings->size(); ++k) {
                if (k) o += ',';
                write_turn((*t.siblings)[k], false, o);
            }
            o += ']';
        }
    }
    o += "}}";
}

// metadata: the item's source row plus what Coral adds.
static std::string metadata_of(const CoralEpisode &e, const ItemInfo &item) {
    std::string_view meta = item.metadata_json;
    while (!meta.empty() && (meta.back() == ' ' || meta.back() == '\n')) meta.remove_suffix(1);
    std::string extra;
    JsonWriter m(extra);
    m.key("init_prompt").value(e.turns().empty() ? std::string_view() : std::string_view(e.turns()[0].content));
    m.key("teacher_inst").value(e.system(0)).key("student_inst").value(e.system(1));
    std::string metadata;
    if (meta.size() >= 2 && meta.front() == '{' && meta.back() == '}') {
        metadata.assign(meta.substr(0, meta.size() - 1));
        if (meta.find_first_not_of(" \n\t", 1) != meta.size() - 1) metadata += ',';
    } else {
        metadata = "{";
    }
    metadata += extra;
    metadata += '}';
    return metadata;
}

void CoralRecordFormat::write(const CoralEpisode &e, const ItemInfo &item, const Metrics &metrics, std::string &line) const {
    JsonWriter w(line);
    w.begin_object().key("conv_result").begin_array();
    for (size_t i = 0; i < e.turns().size(); ++i) {
        if (i) line += ',';
        write_turn(e.turns()[i], i == 0, line);
    }
    w.end_array();
    w.key("metadata").raw(metadata_of(e, item));
    std::string metrics_json;
    metrics.append_json(metrics_json);
    w.key("metrics").raw(metrics_json);
    w.key("parley").begin_object().key("id").value(e.item_id()).key("trial").value(e.trial()).key("domain").value(e.domain_node());
    w.key("seed").value(e.seed()).key("gold").value(item.gold);
    w.key("profile").value(config_.profile == AgreementProfile::Coral ? "coral" : "matrix");
    w.key("max_turns").value(int64_t{config_.max_turns});
    w.end_object().end_object();
}

} // namespace parley::core::eval
