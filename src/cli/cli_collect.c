/* eahas collect: placeholder until its module lands. */
#include "cli/cli.h"

int cli_collect(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'collect' is not implemented yet");
  return 2;
}
