#include "plugmq/app/commands.hpp"

int main(int argc, char** argv) { return plugmq::app::run_main(argc, argv); }
