// Compact JSON text of a value, byte for byte what nlohmann's
// dump(-1, ' ', false, error_handler_t::replace) writes, at a fraction of
// its cost: strings are copied in runs of bytes that need no escaping
// (nlohmann's dump_escaped decodes and appends one byte at a time, about 35
// instructions a byte), integers with std::to_chars, into the caller's
// string. What podguard serve answers every review with.
//
// A string that is not valid UTF-8 (the strict reader lets none in, but a
// caller may build one) and a floating-point number are written by nlohmann
// itself, so the output stays the same in every case.
#pragma once

#include <string>
#include <string_view>

#include "engine/reading/document.h"

namespace podguard {

// Appends `value`'s compact JSON text to `out`.
void append_json(std::string& out, const Json& value);

// The compact JSON text of `value`.
std::string write_json(const Json& value);

// Appends `s` as a JSON string (quoted, escaped; invalid UTF-8 replaced).
void append_json_string(std::string& out, std::string_view s);

}  // namespace podguard
