// The host services table handed to every plugin (parley_host_api), and the host-side
// representations of its opaque handles: a configuration is a TOML table, a buffer a std::string.
#pragma once

#include <parley/plugin.h>

#include <toml++/toml.h>

#include <string>

namespace parley::core {

// The one table, valid for the life of the process.
const parley_host_api *host_api();

// Opaque-handle conversions. A parley_config points at a toml::table the host owns.
inline const parley_config *as_config(const toml::table &t) { return reinterpret_cast<const parley_config *>(&t); }
inline parley_buffer *as_buffer(std::string &s) { return reinterpret_cast<parley_buffer *>(&s); }

// A TOML value as JSON text (used by config_get_json and for recording resolved configs).
std::string toml_to_json(const toml::node &node);

} // namespace parley::core
