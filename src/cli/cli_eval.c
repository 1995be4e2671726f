/* eahas eval: placeholder until its module lands. */
#include "cli/cli.h"

int cli_eval(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'eval' is not implemented yet");
  return 2;
}
