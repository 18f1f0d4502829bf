// Stand-in for ggml.h when llama.cpp's common/json.cpp is compiled into parley_chat_template:
// json.cpp only takes GGML_ASSERT from it (as nlohmann's JSON_ASSERT), and this library must not
// link ggml (the host and the openai plugin use it).
#pragma once
#include <cstdio>
#include <cstdlib>
#define GGML_ASSERT(x)                                                                     \
    do {                                                                                   \
        if (!(x)) {                                                                        \
            std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)
