// core/coral_eval's descriptor: its schema and its run function (coral_eval.cpp). It sits in a
// file of its own until the runtime restructure (#13) moves it into coral_eval.cpp, beside run_coral_eval.
#include <parley/core/run.hpp>

namespace parley::core {

void run_coral_eval(RunContext &ctx); // coral_eval.cpp

const CoreNode &coral_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema coral = core_schema("coral_eval", "Coral collaborative reasoning: two agents discuss each item until they agree");
        coral.params = {
            {"profile", PARLEY_TYPE_STRING, 0, "coral",
             "\"coral\" (official: last two turns agree; total_turns counts turn 0) or \"matrix\" (Matrix P2P)"},
            {"max_turns", PARLEY_TYPE_INT, 0, "20", "generated turns at most (turn 0 not counted)"},
            {"max_tokens", PARLEY_TYPE_INT, 0, "1024", "completion tokens per turn"},
            {"temperature", PARLEY_TYPE_FLOAT, 0, "0.2", "agents' sampling temperature (Coral's default)"},
            {"top_p", PARLEY_TYPE_FLOAT, 0, "0.9", "nucleus sampling"},
            {"top_k", PARLEY_TYPE_INT, 0, "0", "top-k sampling; 0 = off"},
            {"min_p", PARLEY_TYPE_FLOAT, 0, "0", "min-p sampling; 0 = off"},
            {"seed", PARLEY_TYPE_INT, 0, "42", "base seed (0 … 2^63-1); every seed sent is below 2^63"},
            {"seed_mode", PARLEY_TYPE_STRING, 0, "per_conversation",
             "\"per_conversation\": each (item, trial, turn) its own seed; \"fixed\": `seed` on every request (Coral/Matrix), "
             "tree picks from one Python-random stream seeded `seed`"},
            {"trials", PARLEY_TYPE_INT, 0, "1", "conversations (trees) per item (Coral's sampling_n), each with its own seed"},
            {"extraction", PARLEY_TYPE_STRING, 0, "llm",
             "\"llm\": the domain's extractor prompt on the extractor backend (official); \"rule\": read beliefs from the turn"},
            {"extractor_max_tokens", PARLEY_TYPE_INT, 0, "32", "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)"},
            {"first_role", PARLEY_TYPE_STRING, 0, "student", "who asks the question in turn 0 (the other answers first)"},
            {"beam", PARLEY_TYPE_INT, 0, "1",
             "tree sampling: candidates per turn (one request with n = beam); one continues, the rest are kept as siblings"},
            {"stop", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "stop strings for agent turns"},
            {"max_conversations", PARLEY_TYPE_INT, 0, "4 x backend slots", "hard cap on conversations in flight"},
            {"records", PARLEY_TYPE_BOOL, 0, "true", "write per-conversation records (false: metrics and results only; no resume)"},
            {"max_tokens_in_flight", PARLEY_TYPE_INT, 0, "0", "budget of resident tokens over live conversations (0 = none)"},
            {"backend_feedback", PARLEY_TYPE_BOOL, 0, "true", "start new conversations only while the backends' queues and KV caches have room (ABI 1.2 get_load)"},
            {"system_prompt", PARLEY_TYPE_STRING, 0, "collaborate",
             "\"collaborate\" (assistant_sbs_short / GPQA assistant_sbs), \"cot\" (simple_cot), \"none\", or literal text"},
            {"teacher_system_prompt", PARLEY_TYPE_STRING, 0, "= system_prompt", "the teacher's own system prompt"},
            {"student_system_prompt", PARLEY_TYPE_STRING, 0, "= system_prompt", "the student's own system prompt"},
            {"teacher_temperature", PARLEY_TYPE_FLOAT, 0, "= temperature", "the teacher's own temperature"},
            {"student_temperature", PARLEY_TYPE_FLOAT, 0, "= temperature", "the student's own temperature"},
            {"teacher_max_tokens", PARLEY_TYPE_INT, 0, "= max_tokens", "the teacher's own token limit"},
            {"student_max_tokens", PARLEY_TYPE_INT, 0, "= max_tokens", "the student's own token limit"},
        };
        coral.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"teacher", PARLEY_KIND_BACKEND, false, true, "the teacher's model (and by default everyone's)"},
            {"student", PARLEY_KIND_BACKEND, false, false, "the student's model (cross-partner evaluation); default: teacher"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the belief extractor's model; default: teacher"},
        };
        coral.outputs = {"records"};
        return CoreNode{std::move(coral), run_coral_eval};
    }();
    return node;
}

} // namespace parley::core
