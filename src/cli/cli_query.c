/* eahas query: placeholder until its module lands. */
#include "cli/cli.h"

int cli_query(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'query' is not implemented yet");
  return 2;
}
