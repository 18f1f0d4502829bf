// parley/common/coral.hpp — Coral conventions shared by the domain plugins (header-only,
// plugin-side): the `profile` parameter, belief validity, the extractor prompt assembly.
#pragma once

#include <parley/common/pytext.hpp>

#include <parley/sdk.hpp>

#include <string>
#include <string_view>

namespace parley::common {

// "coral": reproduce the official code's quirks. "fixed": each quirk corrected (see the plugin
// READMEs, section "Profiles: coral vs fixed").
enum class Profile { Coral, Fixed };

// The `profile` parameter every domain declares (its spec: choices, default, doc).
inline constexpr const char *kProfiles[] = {"coral", "fixed"};
inline constexpr parley_param kProfileParam = parley::param::choice(
    "profile", kProfiles, "coral", "coral: reproduce the official scoring quirks; fixed: each quirk corrected (see README)");

inline Profile parse_profile(const parley::Config &cfg) {
    return cfg.get<std::string>(kProfileParam) == "fixed" ? Profile::Fixed : Profile::Coral; // choices: checked
}

inline const char *profile_name(Profile p) { return p == Profile::Coral ? "coral" : "fixed"; }

inline constexpr const char *kNotSure = "not sure yet";

// Coral's is_valid_answer: not None, does not start with "Error", is not "not sure yet". The
// fixed profile also rejects an empty belief.
inline bool valid_belief(std::string_view b, Profile p) {
    if (starts_with(b, "Error")) return false;
    if (b == kNotSure) return false;
    if (p == Profile::Fixed && py_strip(b).empty()) return false;
    return true;
}

// The extractor's user prompt: Coral writes it into StringIO(sys_prompt), which overwrites from
// position 0 (in code points), so a prompt shorter than the 307-character system prompt keeps
// the system prompt's tail. Applied in both profiles: it is what the extractor model was shown.
inline std::string extractor_prompt(std::string_view body) {
    return stringio_overwrite(parley::coral::kExtractorSystem, body);
}

inline void require_mode(int mode) {
    if (mode != PARLEY_EXTRACT_RULE && mode != PARLEY_EXTRACT_LLM_OUTPUT)
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, "unknown extract mode " + std::to_string(mode));
}

} // namespace parley::common
