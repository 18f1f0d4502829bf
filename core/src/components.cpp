#include <parley/core/components.hpp>
#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>

#include "cache/request_cache.hpp"

#include <fmt/format.h>

namespace parley::core {
namespace {

parley_str str(std::string_view s) { return parley_str{s.data(), s.size()}; }
std::string copy(parley_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }

template <class VT> const VT *vtable_of(const NodeSpec &node, int32_t kind) {
    if (!node.schema || !node.schema->component || node.schema->kind != kind)
        throw ComponentError(PARLEY_ERR_INVALID_ARGUMENT, fmt::format("node '{}' is not a {}", node.name, kind_name(kind)));
    return static_cast<const VT *>(node.schema->component->vtable);
}

} // namespace

// ---- Domain -------------------------------------------------------------------------------------

std::unique_ptr<Domain> Domain::create(const NodeSpec &node) {
    std::unique_ptr<Domain> d(new Domain());
    d->node_ = node.name;
    d->vt_ = vtable_of<parley_domain_vtable>(node, PARLEY_KIND_DOMAIN);
    parley_error err{};
    const toml::table config = with_defaults(node); // the host applies the typed defaults (ABI 1.4)
    parley_status st = d->vt_->create(host_api(), as_config(config), &d->self_, &err);
    if (st != PARLEY_OK) {
        d->self_ = nullptr;
        throw ComponentError(st, fmt::format("node '{}' ({}): cannot create: {}", node.name, node.use, err.message));
    }
    parley_domain_info info{};
    info.struct_size = sizeof info;
    st = d->vt_->get_info(d->self_, &info, &err);
    if (st != PARLEY_OK) d->fail("get_info", st, err);
    d->info_.task_name = copy(info.task_name);
    d->info_.matcher_name = copy(info.matcher_name);
    d->info_.extractor_name = copy(info.extractor_name);
    d->info_.score_json_type = info.score_json_type;
    d->info_.sensitive_text = info.sensitive_text != 0;
    return d;
}

Domain::~Domain() {
    if (self_) vt_->destroy(self_);
}

void Domain::fail(const char *what, parley_status st, const parley_error &err) const {
    throw ComponentError(st, fmt::format("domain '{}': {}: {}", node_, what, err.message));
}

std::pair<size_t, size_t> Domain::load(const std::string &path, bool skip_malformed) {
    parley_load_result r{};
    r.struct_size = sizeof r;
    parley_error err{};
    parley_status st = vt_->load(self_, str(path), skip_malformed ? 1 : 0, &r, &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("domain '{}': cannot load {}: {}", node_, path, err.message));
    n_items_ = r.n_items;
    return {r.n_items, r.n_skipped};
}

ItemInfo Domain::item(size_t index) const {
    parley_item_info info{};
    info.struct_size = sizeof info;
    parley_error err{};
    parley_status st = vt_->get_item(self_, index, &info, &err);
    if (st != PARLEY_OK) fail("get_item", st, err);
    return {copy(info.id), copy(info.gold), copy(info.category), copy(info.metadata_json)};
}

std::string Domain::render(size_t index, int32_t what, std::string_view input) const {
    std::string out;
    parley_error err{};
    parley_status st = vt_->render(self_, index, what, str(input), as_buffer(out), &err);
    if (st != PARLEY_OK) fail("render", st, err);
    return out;
}

std::pair<std::string, bool> Domain::extract(size_t index, int32_t mode, std::string_view text) const {
    std::string belief;
    int32_t valid = 0;
    parley_error err{};
    parley_status st = vt_->extract(self_, index, mode, str(text), as_buffer(belief), &valid, &err);
    if (st != PARLEY_OK) fail("extract", st, err);
    return {belief, valid != 0};
}

double Domain::score(size_t index, std::string_view belief) const {
    double s = 0;
    parley_error err{};
    parley_status st = vt_->score(self_, index, str(belief), &s, &err);
    if (st != PARLEY_OK) fail("score", st, err);
    return s;
}

// ---- Backend ------------------------------------------------------------------------------------

std::unique_ptr<Backend> Backend::create(const NodeSpec &node) {
    std::unique_ptr<Backend> b(new Backend());
    b->node_ = node.name;
    b->vt_ = vtable_of<parley_backend_vtable>(node, PARLEY_KIND_BACKEND);
    parley_error err{};
    const toml::table config = with_defaults(node);
    parley_status st = b->vt_->create(host_api(), as_config(config), &b->self_, &err);
    if (st != PARLEY_OK) {
        b->self_ = nullptr;
        throw ComponentError(st, fmt::format("node '{}' ({}): cannot create: {}", node.name, node.use, err.message));
    }
    parley_backend_info info{};
    info.struct_size = sizeof info;
    if (b->vt_->get_info(b->self_, &info, &err) == PARLEY_OK) {
        b->model_ = copy(info.model);
        b->context_size_ = info.context_size;
        b->max_parallel_ = info.max_parallel;
    }
    if (auto path = node.config["cache"].value<std::string>(); path && !path->empty()) {
        nlohmann::json identity = model_identity(node.use, b->model_, b->apply_template(template_probe()),
                                                 node.config["cache_salt"].value_or(std::string()));
        b->cache_ = std::make_unique<RequestCache>(node.name, *path, std::move(identity));
        logger().info("backend '{}': request cache {} ({} entries)", node.name, *path, b->cache_->usage().entries);
    }
    return b;
}

Backend::~Backend() {
    if (self_) vt_->destroy(self_); // its outstanding callbacks fire (and may store) before the cache goes
    if (cache_) {
        CacheUsage u = cache_->usage();
        const uint64_t asked = u.hits + u.misses;
        logger().info("backend '{}': request cache {}: {} hits, {} misses ({:.1f}% hits), {} stored; the hits saved {} prompt and {} completion tokens",
                      node_, u.path, u.hits, u.misses, asked ? 100.0 * static_cast<double>(u.hits) / static_cast<double>(asked) : 0.0, u.stored,
                      u.prompt_tokens_saved, u.completion_tokens_saved);
        cache_.reset(); // delivers queued hits, joins its thread
    }
}

std::optional<CacheUsage> Backend::cache_usage() const {
    if (!cache_) return std::nullopt;
    return cache_->usage();
}

namespace {
// What a request's callbacks need: its completion callback and, when it streams, its deltas.
struct PendingRequest {
    Backend::Callback done;
    std::function<void(uint32_t, std::string_view)> delta;
};

void on_delta(void *user, uint32_t index, parley_str text) {
    auto *p = static_cast<PendingRequest *>(user);
    p->delta(index, std::string_view(text.data, text.size));
}

void on_complete(void *user, const parley_completion *c) {
    std::unique_ptr<PendingRequest> p(static_cast<PendingRequest *>(user));
    GenerationResult r;
    r.status = c->status;
    r.error = copy(c->error_message);
    for (size_t i = 0; i < c->n_choices; ++i)
        r.choices.push_back({copy(c->choices[i].text), c->choices[i].finish_reason, c->choices[i].completion_tokens, {}});
    r.prompt_tokens = c->prompt_tokens;
    r.cached_tokens = c->cached_tokens;
    r.completion_tokens = c->completion_tokens;
    r.queue_s = c->queue_s;
    r.prefill_s = c->prefill_s;
    r.total_s = c->total_s;
    // ABI 1.5: reasoning apart from the text, only where the plugin's completion carries it.
    const auto covers = [&](size_t off, size_t size) { return off + size <= c->struct_size; };
    if (covers(offsetof(parley_completion, reasoning), sizeof c->reasoning) && c->reasoning)
        for (size_t i = 0; i < c->n_choices; ++i) r.choices[i].reasoning = copy(c->reasoning[i]);
    r.reasoning_tokens = covers(offsetof(parley_completion, reasoning_tokens), sizeof c->reasoning_tokens) ? c->reasoning_tokens : -1;
    p->done(std::move(r));
}
} // namespace

// Ids of answers from the cache: the top bit set, so they never meet a plugin's ids.
constexpr uint64_t kCachedIdBit = uint64_t{1} << 63;

uint64_t Backend::submit(const GenerationRequest &q, Callback done) {
    if (!cache_) return submit_to_plugin(q, std::move(done));
    std::string key = cache_->key(q);
    if (std::optional<GenerationResult> hit = cache_->find(key)) {
        cache_->deliver_later(std::move(done), std::move(*hit));
        return kCachedIdBit | ++cached_ids_;
    }
    return submit_to_plugin(q, [cache = cache_.get(), key = std::move(key), done = std::move(done)](GenerationResult &&r) {
        if (cacheable(r)) cache->store(key, r);
        done(std::move(r));
    });
}

uint64_t Backend::submit_to_plugin(const GenerationRequest &q, Callback done) {
    std::vector<parley_message> msgs;
    msgs.reserve(q.messages.size());
    for (auto &m : q.messages) msgs.push_back({str(m.role), str(m.content)});
    std::vector<parley_str> stops;
    for (auto &s : q.stop) stops.push_back(str(s));
    parley_request r{};
    r.struct_size = sizeof r;
    r.messages = msgs.data();
    r.n_messages = msgs.size();
    r.prompt = str(q.prompt);
    r.temperature = q.temperature;
    r.top_p = q.top_p;
    r.top_k = q.top_k;
    r.min_p = q.min_p;
    r.seed = q.seed.value_or(0);
    r.has_seed = q.seed.has_value() ? 1 : 0;
    r.max_tokens = q.max_tokens;
    r.n = q.n;
    r.stop = stops.data();
    r.n_stop = stops.size();
    r.conversation = q.conversation;
    r.agent = q.agent;
    r.deadline_s = q.deadline_s;
    r.extra_json = str(q.extra_json);
    if (q.on_delta) r.on_delta = &on_delta;
    auto cb = std::make_unique<PendingRequest>(PendingRequest{std::move(done), q.on_delta});
    uint64_t id = 0;
    parley_error err{};
    parley_status st = vt_->submit(self_, &r, &on_complete, cb.get(), &id, &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("backend '{}': request refused: {}", node_, err.message));
    cb.release(); // owned by the callback now
    return id;
}

bool Backend::cancel(uint64_t id) {
    if (id & kCachedIdBit) return false; // a cached answer is already on its way
    return vt_->cancel(self_, id) == PARLEY_OK;
}

std::optional<std::string> Backend::apply_template(const std::vector<ChatMessage> &messages) const {
    if (vt_->struct_size < offsetof(parley_backend_vtable, apply_template) + sizeof(void *) || !vt_->apply_template)
        return std::nullopt;
    std::vector<parley_message> msgs;
    for (auto &m : messages) msgs.push_back({str(m.role), str(m.content)});
    std::string out;
    parley_error err{};
    if (vt_->apply_template(self_, msgs.data(), msgs.size(), as_buffer(out), &err) != PARLEY_OK) return std::nullopt;
    return out;
}

bool Backend::reports_load() const {
    return vt_->struct_size >= offsetof(parley_backend_vtable, get_load) + sizeof(vt_->get_load) && vt_->get_load;
}

std::optional<BackendLoad> Backend::load() const {
    if (!reports_load()) return std::nullopt;
    parley_backend_load l{};
    l.struct_size = sizeof l;
    l.kv_used = -1; // members a plugin's smaller struct lacks stay "unknown"
    l.kv_capacity = -1;
    if (vt_->get_load(self_, &l) != PARLEY_OK) return std::nullopt;
    return BackendLoad{l.queued, l.running, l.kv_used, l.kv_capacity};
}

// ---- Filter -------------------------------------------------------------------------------------

std::unique_ptr<Filter> Filter::create(const NodeSpec &node) {
    std::unique_ptr<Filter> f(new Filter());
    f->node_ = node.name;
    f->vt_ = vtable_of<parley_filter_vtable>(node, PARLEY_KIND_FILTER);
    parley_error err{};
    const toml::table config = with_defaults(node);
    parley_status st = f->vt_->create(host_api(), as_config(config), &f->self_, &err);
    if (st != PARLEY_OK) {
        f->self_ = nullptr;
        throw ComponentError(st, fmt::format("node '{}' ({}): cannot create: {}", node.name, node.use, err.message));
    }
    return f;
}

Filter::~Filter() {
    if (self_) vt_->destroy(self_);
}

void Filter::push(std::string_view row, std::string &out) {
    parley_error err{};
    parley_status st = vt_->push(self_, str(row), as_buffer(out), &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("filter '{}': {}", node_, err.message));
}

void Filter::finish(std::string &out) {
    parley_error err{};
    parley_status st = vt_->finish(self_, as_buffer(out), &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("filter '{}': {}", node_, err.message));
}

std::string Filter::report() {
    std::string out;
    parley_error err{};
    parley_status st = vt_->report(self_, as_buffer(out), &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("filter '{}': report: {}", node_, err.message));
    return out;
}

// ---- Trainer ------------------------------------------------------------------------------------

std::unique_ptr<Trainer> Trainer::create(const NodeSpec &node) {
    std::unique_ptr<Trainer> t(new Trainer());
    t->node_ = node.name;
    t->vt_ = vtable_of<parley_trainer_vtable>(node, PARLEY_KIND_TRAINER);
    parley_error err{};
    const toml::table config = with_defaults(node);
    parley_status st = t->vt_->create(host_api(), as_config(config), &t->self_, &err);
    if (st != PARLEY_OK) {
        t->self_ = nullptr;
        throw ComponentError(st, fmt::format("node '{}' ({}): cannot create: {}", node.name, node.use, err.message));
    }
    return t;
}

Trainer::~Trainer() {
    if (self_) vt_->destroy(self_);
}

std::string Trainer::train(const std::string &data_path, const std::string &output_dir) {
    std::string summary;
    parley_train_job job{};
    job.struct_size = sizeof job;
    job.data_path = str(data_path);
    job.output_dir = str(output_dir);
    job.result_json = as_buffer(summary);
    parley_error err{};
    parley_status st = vt_->train(self_, &job, &err);
    if (st != PARLEY_OK) throw ComponentError(st, fmt::format("trainer '{}': {}", node_, err.message));
    return summary;
}

} // namespace parley::core
