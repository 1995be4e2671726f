/* eahas table: placeholder until its module lands. */
#include "cli/cli.h"

int cli_table(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'table' is not implemented yet");
  return 2;
}
