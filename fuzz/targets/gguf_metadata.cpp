// GGUF metadata as the trainer reads it (plugins/trainer/src/gguf_io.cpp): the input as a model
// file (header, key-value pairs, tensor infos; gguf's own reader underneath), its hyper-parameters
// (model_config), and as a LoRA adapter (read_lora_adapter, which also reads the tensors' data).
// parley::Error is the refusal.
#include "fuzz_entry.hpp"
#include "gguf_io.hpp"

#include <parley/error.hpp>

PARLEY_FUZZ_ENTRY(gguf_metadata) {
    namespace t = parley::training;
    const std::string path = parley::fuzz::write_file("model.gguf", parley::fuzz::bytes(data, size));
    try {
        t::GgufFile g(path);
        for (const t::TensorInfo &ti : g.tensors()) (void)ti.shape();
        (void)g.get_string("general.name", "");
        (void)g.get_int("general.alignment", 32);
        try {
            (void)g.model_config();
        } catch (const parley::Error &) {
        }
    } catch (const parley::Error &) {
    }
    try {
        (void)t::read_lora_adapter(path);
    } catch (const parley::Error &) {
    }
    return 0;
}
