// `podguard rules [--markdown]`: the rule reference, generated from the
// registry so it cannot drift from the code.
//
// Writes to the stream it is given; the rule registry it reads is immutable.
#pragma once

#include <ostream>

namespace podguard::cli {

void write_rules_text(std::ostream& out);
void write_rules_markdown(std::ostream& out);

}  // namespace podguard::cli
