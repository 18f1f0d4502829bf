// A small streaming JSON writer for hot output paths (conversation records at tens of thousands
// per second), where building a DOM first would cost more than the run itself. Strings are
// escaped per RFC 8259; invalid UTF-8 becomes U+FFFD, as nlohmann's `replace` handler does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::core {

class JsonWriter {
  public:
    explicit JsonWriter(std::string &out) : out_(out) {}

    JsonWriter &begin_object() { return open('{'); }
    JsonWriter &end_object() { return close('}'); }
    JsonWriter &begin_array() { return open('['); }
    JsonWriter &end_array() { return close(']'); }
    JsonWriter &key(std::string_view k);
    // A key spelled in the source: plain ASCII with nothing to escape, so it is copied as it is
    // (records write a dozen per turn).
    template <size_t N> JsonWriter &key(const char (&literal)[N]) {
        separate();
        out_ += '"';
        out_.append(literal, N - 1);
        out_.append("\":", 2);
        after_key_ = true;
        return *this;
    }
    JsonWriter &value(std::string_view s);
    JsonWriter &value(const char *s) { return value(std::string_view(s)); }
    JsonWriter &value(const std::string &s) { return value(std::string_view(s)); }
    JsonWriter &value(bool b);
    JsonWriter &value(int64_t i);
    JsonWriter &value(int i) { return value(static_cast<int64_t>(i)); }
    JsonWriter &value(uint64_t u);
    JsonWriter &value(double d);
    JsonWriter &null();
    // Splices already-serialised JSON in as a value.
    JsonWriter &raw(std::string_view json);

    static void escape(std::string &out, std::string_view s);

  private:
    JsonWriter &open(char c) {
        separate();
        out_ += c;
        first_ = true;
        return *this;
    }
    JsonWriter &close(char c) {
        out_ += c;
        first_ = false;
        return *this;
    }
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_) out_ += ',';
        first_ = false;
    }

    std::string &out_;
    bool first_ = true;    // first element of the current container
    bool after_key_ = false;
};

} // namespace parley::core
