/* eahas plot: placeholder until its module lands. */
#include "cli/cli.h"

int cli_plot(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'plot' is not implemented yet");
  return 2;
}
