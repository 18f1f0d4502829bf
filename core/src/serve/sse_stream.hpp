// One streamed reply (`"stream": true`) of /v1/chat/completions or /v1/completions: the backend's
// text pieces go out as server-sent events as they come (ABI 1.3 on_delta), then the finish
// chunks, the usage chunk when asked and `data: [DONE]`. The HTTP head is sent with the first
// piece, so a request refused before any text still gets its error status and JSON body; a
// failure after that is an error event (as vLLM sends) before `[DONE]`. A backend that does not
// stream gets the whole text at its end, as one piece per choice.
#pragma once

#include "http_server.hpp"
#include "openai_api.hpp"
#include "service.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace parley::serve {

class SseStream {
  public:
    SseStream(std::shared_ptr<ApiRequest> request, Reply reply, std::string id, int64_t created, std::string model);

    // A final piece of choice `index`'s text (any thread, in order per choice).
    void delta(uint32_t index, std::string_view text);
    // The outcome: the rest of each choice's text, finish chunks, usage, [DONE] (or the error).
    void finish(const Outcome &outcome);

  private:
    void begin_locked();
    void text_locked(size_t index, std::string_view text);

    std::shared_ptr<ApiRequest> request_;
    Reply reply_;
    std::string id_, model_;
    int64_t created_;
    std::mutex mu_;
    bool begun_ = false;
    std::vector<size_t> sent_; // bytes of each choice's text sent (0 = none yet: its first carries the role)
    std::vector<bool> started_;
};

} // namespace parley::serve
