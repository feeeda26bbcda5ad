// Secrets given to the admin commands (SPEC 8: passwords need not appear in argv), app-private.
//
// --NAME VALUE   the value itself: for scripts and tests, but it shows in `ps` and in the
//                shell's history.
// --NAME -       read from standard input: one line, its newline stripped (recommended). Several
//                such options read one line each, in the order the command documents. On a
//                terminal the secret is prompted for without echo, twice.
// (omitted)      where the command requires the secret: prompted for on a terminal, twice;
//                otherwise a usage error naming --NAME and '-'.
#pragma once

#include <optional>
#include <string>

#include "plugmq/app/args.hpp"

namespace plugmq::app {

// The secret of option `name` as above; nothing when it is omitted and not `required`. `what`
// names it in prompts and messages ("password for a@b.c"). Throws UsageError: nothing to read,
// the two entries differ, or a required one is missing without a terminal.
std::optional<std::string> secret_option(const Args& args, const std::string& name, bool required,
                                         const std::string& what);

}  // namespace plugmq::app
