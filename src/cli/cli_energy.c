/* eahas energy: placeholder until its module lands. */
#include "cli/cli.h"

int cli_energy(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'energy' is not implemented yet");
  return 2;
}
