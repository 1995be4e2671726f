/* eahas search: placeholder until its module lands. */
#include "cli/cli.h"

int cli_search(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'search' is not implemented yet");
  return 2;
}
