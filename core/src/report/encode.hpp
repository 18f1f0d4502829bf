// Encodings the report embeds its data with: gzip (the browser's DecompressionStream reads it)
// and base64 (text inside a <script> element).
#pragma once

#include <string>
#include <string_view>

namespace parley::core::report {

std::string gzip(std::string_view data);
std::string base64(std::string_view data);
// JSON text safe inside <script>: every "<" becomes \u003c (the same JSON value).
std::string script_safe(std::string json);

} // namespace parley::core::report
