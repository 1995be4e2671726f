/* eahas fit: placeholder until its module lands. */
#include "cli/cli.h"

int cli_fit(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'fit' is not implemented yet");
  return 2;
}
