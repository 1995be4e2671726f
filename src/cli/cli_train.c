/* eahas train: placeholder until its module lands. */
#include "cli/cli.h"

int cli_train(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_error("'train' is not implemented yet");
  return 2;
}
