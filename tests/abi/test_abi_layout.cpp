// Freezes the released ABI: offsets of every 1.0 member. A failing assertion means a struct was
// changed in a way that breaks plugins built against 1.0 — only appending is allowed.
#include <parley/plugin.h>

#include <catch2/catch.hpp>

#include <cstddef>

#define FROZEN(T, M, OFF) static_assert(offsetof(T, M) == (OFF), #T "." #M " moved: ABI 1.0 is frozen")

static_assert(PARLEY_ABI_MAJOR == 1, "a new major needs a new layout table here");
FROZEN(parley_error, message, 4);
FROZEN(parley_host_api, host_ctx, 16);
FROZEN(parley_host_api, log, 24);
FROZEN(parley_host_api, config_get_string, 32);
FROZEN(parley_host_api, config_get_json, 80);
FROZEN(parley_host_api, buffer_append, 88);
FROZEN(parley_host_api, buffer_clear, 96);
FROZEN(parley_param, default_text, 16);
FROZEN(parley_param, doc, 24);
FROZEN(parley_component, kind, 4);
FROZEN(parley_component, name, 8);
FROZEN(parley_component, version, 16);
FROZEN(parley_component, description, 24);
FROZEN(parley_component, params, 32);
FROZEN(parley_component, n_params, 40);
FROZEN(parley_component, vtable, 48);
FROZEN(parley_plugin_desc, name, 16);
FROZEN(parley_plugin_desc, components, 40);
FROZEN(parley_plugin_desc, n_components, 48);
FROZEN(parley_plugin_desc, shutdown, 56);
FROZEN(parley_item_info, id, 8);
FROZEN(parley_item_info, metadata_json, 56);
FROZEN(parley_domain_info, score_json_type, 56);
FROZEN(parley_domain_vtable, create, 8);
FROZEN(parley_domain_vtable, get_info, 64);
FROZEN(parley_request, messages, 8);
FROZEN(parley_request, prompt, 24);
FROZEN(parley_request, temperature, 40);
FROZEN(parley_request, seed, 72);
FROZEN(parley_request, n, 88);
FROZEN(parley_request, stop, 96);
FROZEN(parley_request, conversation, 112);
FROZEN(parley_request, agent, 120);
FROZEN(parley_request, deadline_s, 128);
FROZEN(parley_request, extra_json, 136);
FROZEN(parley_completion, choices, 40);
FROZEN(parley_completion, total_s, 96);
FROZEN(parley_backend_vtable, submit, 24);
FROZEN(parley_backend_vtable, get_proc_address, 56);
FROZEN(parley_filter_vtable, report, 40);
// 1.1
FROZEN(parley_host_api, buffer_create, 104);
FROZEN(parley_host_api, buffer_data, 120);
FROZEN(parley_train_job, data_path, 8);
FROZEN(parley_train_job, output_dir, 24);
FROZEN(parley_train_job, result_json, 40);
FROZEN(parley_trainer_vtable, train, 24);
// 1.2
FROZEN(parley_backend_vtable, get_load, 64);
FROZEN(parley_backend_load, queued, 8);
FROZEN(parley_backend_load, running, 16);
FROZEN(parley_backend_load, kv_used, 24);
FROZEN(parley_backend_load, kv_capacity, 32);
// 1.3
FROZEN(parley_request, on_delta, 152);
// 1.4: parameter specs; the component says the stride of its parameter array
FROZEN(parley_param, choices, 32);
FROZEN(parley_param, n_choices, 40);
FROZEN(parley_param, min_value, 48);
FROZEN(parley_param, max_value, 56);
FROZEN(parley_param, default_string, 64);
FROZEN(parley_param, default_int, 72);
FROZEN(parley_param, default_float, 80);
FROZEN(parley_component, param_size, 56);
static_assert(sizeof(parley_param) == 88, "parley_param 1.4 is 88 bytes: a later minor appends and param_size tells the stride");
// 1.5
FROZEN(parley_completion, reasoning, 104);
FROZEN(parley_completion, reasoning_tokens, 112);

TEST_CASE("ABI 1.0 layout is frozen", "[abi]") {
    // The static_asserts above are the test; this case records that they compiled.
    REQUIRE(sizeof(parley_error) == 4 + PARLEY_ERROR_MESSAGE_SIZE);
    REQUIRE(offsetof(parley_backend_vtable, struct_size) == 0);
}

TEST_CASE("ABI 1.2 appends get_load to the backend table", "[abi]") {
    CHECK(PARLEY_ABI_MINOR >= 2);
    // A 1.1 plugin's table ends before get_load: a host must check struct_size before calling it.
    const size_t v11 = offsetof(parley_backend_vtable, get_proc_address) + sizeof(void *);
    CHECK(v11 == offsetof(parley_backend_vtable, get_load));
    CHECK(offsetof(parley_backend_load, struct_size) == 0);
}

TEST_CASE("ABI 1.3 appends on_delta (streaming) to the request", "[abi]") {
    CHECK(PARLEY_ABI_MINOR >= 3);
    // A 1.2 host's request ends before on_delta: a plugin must check struct_size before reading it.
    const size_t v12 = offsetof(parley_request, extra_json) + sizeof(parley_str);
    CHECK(v12 == offsetof(parley_request, on_delta));
}

TEST_CASE("ABI 1.4 grows parley_param behind param_size", "[abi]") {
    CHECK(PARLEY_ABI_MINOR >= 4);
    // A 1.3 component ends before param_size: its params are read with the 1.0 stride (32 bytes).
    const size_t v13 = offsetof(parley_component, vtable) + sizeof(void *);
    CHECK(v13 == offsetof(parley_component, param_size));
    CHECK(offsetof(parley_param, doc) + sizeof(const char *) == 32);
    CHECK(offsetof(parley_param, choices) == 32); // the 1.4 members start where 1.0 ended
}

TEST_CASE("ABI 1.5 appends reasoning to the completion", "[abi]") {
    CHECK(PARLEY_ABI_MINOR >= 5);
    // A 1.4 plugin's completion ends before reasoning: the host checks struct_size before reading it.
    const size_t v14 = offsetof(parley_completion, total_s) + sizeof(double);
    CHECK(v14 == offsetof(parley_completion, reasoning));
}
