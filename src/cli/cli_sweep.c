/* eahas sweep: placeholder until its module lands. */
#include "cli/cli.h"

int cli_sweep(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'sweep' is not implemented yet");
  return 2;
}
