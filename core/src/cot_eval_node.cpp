// core/cot_eval's descriptor: its schema and its run function (cot_eval.cpp). It sits in a
// file of its own until the runtime restructure (#13) moves it into cot_eval.cpp, beside run_cot_eval.
#include <parley/core/run.hpp>

namespace parley::core {

void run_cot_eval(RunContext &ctx); // cot_eval.cpp

const CoreNode &cot_eval_node() {
    static const CoreNode node = [] {
        ComponentSchema cot = core_schema("cot_eval", "Single-agent chain-of-thought evaluation (Coral's simple_cot baseline)");
        cot.params = {
            {"profile", PARLEY_TYPE_STRING, 0, "coral",
             "\"coral\" (official CoT configs: LLM extraction, a failed answer's error text extracted and scored) or \"fixed\""},
            {"max_tokens", PARLEY_TYPE_INT, 0, "1024", "completion tokens per answer"},
            {"temperature", PARLEY_TYPE_FLOAT, 0, "0.2", "sampling temperature (Coral's default; 0 = greedy)"},
            {"top_p", PARLEY_TYPE_FLOAT, 0, "0.9", "nucleus sampling"},
            {"top_k", PARLEY_TYPE_INT, 0, "0", "top-k sampling; 0 = off"},
            {"min_p", PARLEY_TYPE_FLOAT, 0, "0", "min-p sampling; 0 = off"},
            {"seed", PARLEY_TYPE_INT, 0, "42", "base seed (0 … 2^63-1); each (item, trial) derives its own, below 2^63"},
            {"trials", PARLEY_TYPE_INT, 0, "1", "samples per item, each with its own seed"},
            {"stop", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "stop strings"},
            {"extraction", PARLEY_TYPE_STRING, 0, "llm (profile coral), rule (fixed)",
             "\"rule\": read the answer from the response; \"llm\": ask the extractor backend (Coral's way)"},
            {"extractor_max_tokens", PARLEY_TYPE_INT, 0, "32", "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)"},
            {"max_in_flight", PARLEY_TYPE_INT, 0, "256", "hard cap on items in flight"},
            {"backend_feedback", PARLEY_TYPE_BOOL, 0, "true", "start new items only while the backends' queues and KV caches have room (ABI 1.2 get_load)"},
            {"system_prompt", PARLEY_TYPE_BOOL, 0, "true", "send the domain's simple_cot system prompt"},
        };
        cot.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"backend", PARLEY_KIND_BACKEND, false, true, "the model answering"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the model extracting beliefs (extraction = \"llm\"); default: backend"},
        };
        cot.outputs = {"samples"};
        return CoreNode{std::move(cot), run_cot_eval};
    }();
    return node;
}

} // namespace parley::core
