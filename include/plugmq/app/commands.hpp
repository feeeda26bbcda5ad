// The plugmq subcommands. Each returns the process exit status: 0 success, 1 failure, 2 usage
// error; messages go to stderr, results to stdout (one JSON value with --json).
#pragma once

#include <string>

#include "plugmq/app/args.hpp"

namespace plugmq::app {

int run_main(int argc, char** argv);

int cmd_serve(const Args& args);
int cmd_account(const std::string& verb, const Args& args);
int cmd_prototype(const std::string& verb, const Args& args);
int cmd_template(const std::string& verb, const Args& args);
int cmd_serial(const std::string& verb, const Args& args);
int cmd_device(const std::string& verb, const Args& args);
int cmd_data(const std::string& verb, const Args& args);
int cmd_session(const std::string& verb, const Args& args);

}  // namespace plugmq::app
