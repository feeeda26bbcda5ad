// UTF-8 well-formedness, the one implementation behind the MQTT codec's string fields and the
// platform's names, channels and payloads. Freestanding: no dependency, usable by every module.
#pragma once

#include <string_view>

namespace plugmq::base {

// Whether U+0000 counts as valid: MQTT forbids it in string fields [MQTT-1.5.3-2]; JSON text
// and names in the store may hold it.
enum class Nul : bool { kRejected, kAllowed };

// Well-formed UTF-8 by the Unicode table (Unicode 15, table 3-7; RFC 3629 section 4): no
// overlong forms, surrogates or code points above U+10FFFF, and U+0000 only when `nul` allows it.
// Thread-safe, never throws.
bool valid_utf8(std::string_view s, Nul nul) noexcept;

}  // namespace plugmq::base
