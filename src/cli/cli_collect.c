/* eahas collect: validate run records and merge them into a benchmark file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/sweep.h"

static const char *USAGE =
    "usage: eahas collect PATH... -o FILE.eahas [--json]\n"
    "\n"
    "Validates every run record under each PATH (a sweep directory: its records/; another\n"
    "directory: its *.json; or a record file): schema version, known preset, valid config and id,\n"
    "curve lengths equal to epochs trained, finite values, units. Bad records are reported with a\n"
    "reason and skipped; good ones are de-duplicated by id and added to FILE.eahas (an SQLite\n"
    "benchmark file, created if missing; docs/benchmark-file.md) in one transaction. Runs already in\n"
    "the file are left as they are, so collecting again changes nothing.\n"
    "Exit status: 0 all records good, 1 some rejected (the good ones are still added) or bad\n"
    "arguments, 2 internal failure.\n";

static void on_reject(void *ctx, const char *path, const char *reason) {
  (void)ctx;
  fprintf(stderr, "eahas: rejected %s: %s\n", path, reason);
}

int cli_collect(int argc, char **argv) {
  if (argc < 2 || cli_wants_help(argc, argv)) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const char *paths[256], *out = NULL;
  int n = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0) {
      if (i + 1 >= argc) return cli_error("-o needs a file name"), 1;
      out = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_error("unknown option '%s' (see eahas collect --help)", argv[i]), 1;
    } else {
      if (n == 256) return cli_error("at most 256 paths at once"), 1;
      paths[n++] = argv[i];
    }
  }
  if (!out) return cli_error("-o FILE.eahas is required"), 1;
  if (cli_check_output("collect", out)) return 1;
  if (n == 0) return cli_error("no record directories or files given"), 1;
  eahas_err err = {0};
  eahas_collect_summary s;
  int rc = eahas_collect(paths, n, out, on_reject, NULL, &s, &err);
  if (rc) {
    cli_error("%s", err.msg);
    return eahas_exit_status(rc);
  }
  if (json)
    printf("{\"files\":%d,\"valid\":%d,\"rejected\":%d,\"duplicates\":%d,\"added\":%d,\"already_present\":%d}\n",
           s.files, s.valid, s.rejected, s.duplicates, s.added, s.present);
  else
    printf("%d record files: %d added to %s, %d already there, %d duplicates, %d rejected\n", s.files, s.added, out,
           s.present, s.duplicates, s.rejected);
  return s.rejected ? 1 : 0;
}
