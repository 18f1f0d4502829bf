#include "sse_stream.hpp"

namespace parley::serve {

using json = nlohmann::json;

SseStream::SseStream(std::shared_ptr<ApiRequest> request, Reply reply, std::string id, int64_t created, std::string model)
    : request_(std::move(request)), reply_(std::move(reply)), id_(std::move(id)), model_(std::move(model)), created_(created) {}

void SseStream::begin_locked() {
    if (begun_) return;
    begun_ = true;
    reply_.begin({200, "text/event-stream", {}, {{"Cache-Control", "no-cache"}}});
}

void SseStream::text_locked(size_t index, std::string_view text) {
    if (sent_.size() <= index) {
        sent_.resize(index + 1, 0);
        started_.resize(index + 1, false);
    }
    const bool first = !started_[index];
    if (text.empty() && !first) return;
    begin_locked();
    std::string events;
    if (first && request_->endpoint == Endpoint::Chat) // the role alone first, as OpenAI and vLLM send it
        events += sse_event(*request_, id_, created_, model_, json::array({sse_text_choice(*request_, index, "", true)}));
    if (!text.empty() || request_->endpoint == Endpoint::Completion)
        events += sse_event(*request_, id_, created_, model_, json::array({sse_text_choice(*request_, index, text, false)}));
    started_[index] = true;
    sent_[index] += text.size();
    reply_.chunk(std::move(events));
}

void SseStream::delta(uint32_t index, std::string_view text) {
    std::lock_guard<std::mutex> lock(mu_);
    text_locked(index, text);
}

void SseStream::finish(const Outcome &o) {
    std::lock_guard<std::mutex> lock(mu_);
    if (o.status != 200) {
        if (!begun_) return reply_({o.status, "application/json", error_body(o.status, o.error_type, o.error), {}});
        reply_.chunk("data: " + error_body(o.status, o.error_type, o.error) + "\n\ndata: [DONE]\n\n");
        return reply_.end();
    }
    const auto &choices = o.result.choices;
    for (size_t i = 0; i < choices.size(); ++i) {
        const size_t sent = i < sent_.size() ? sent_[i] : 0;
        const bool started = i < started_.size() && started_[i];
        if (!started || sent < choices[i].text.size())
            text_locked(i, std::string_view(choices[i].text).substr(std::min(sent, choices[i].text.size())));
    }
    begin_locked();
    reply_.chunk(sse_tail(*request_, o.result, id_, created_, model_));
    reply_.end();
}

} // namespace parley::serve
