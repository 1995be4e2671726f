/* eahas space: placeholder until its module lands. */
#include "cli/cli.h"

int cli_space(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'space' is not implemented yet");
  return 2;
}
