/* eahas: command dispatch. Every command is a thin client of the library. */
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eahas/util.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} COMMANDS[] = {
  {"space", cli_space, "sample, describe, encode and validate configs of the search space"},
  {"train", cli_train, "train one config for real and write its run record"},
  {"energy", cli_energy, "measure the energy of a command"},
  {"sweep", cli_sweep, "plan and run many trainings (local workers or Slurm arrays)"},
  {"collect", cli_collect, "validate run records and merge them into a benchmark file"},
  {"table", cli_table, "statistics and exact lookups in a benchmark file"},
  {"fit", cli_fit, "fit the surrogates (BSC, time, energy) and store them in the benchmark file"},
  {"eval", cli_eval, "evaluate the surrogates on held-out runs"},
  {"query", cli_query, "query the surrogate benchmark for any config"},
  {"search", cli_search, "run optimizers under an energy budget"},
  {"plot", cli_plot, "plot regret against energy, learning curves, accuracy against TEC"},
};

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("eahas: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Atomic writes add ".tmp.<pid>.<n>" to the name: keep room for it under NAME_MAX and PATH_MAX. */
enum { SUFFIX_ROOM = 32 };

/* The name checks shared by files and directories: empty, too long. */
static int check_name(const char *cmd, const char *flag, const char *out) {
  if (!*out) {
    cli_error("%s: %s needs a name, got an empty string", cmd, flag);
    return 1;
  }
  size_t n = strlen(out);
  const char *slash = strrchr(out, '/');
  size_t base = slash ? strlen(slash + 1) : n;
  if (n >= PATH_MAX - SUFFIX_ROOM || base > NAME_MAX - SUFFIX_ROOM) {
    cli_error("%s: %s %.60s...: %zu bytes, or %zu in its last part, is too long (at most %d and %d)", cmd, flag, out,
              n, base, PATH_MAX - SUFFIX_ROOM - 1, NAME_MAX - SUFFIX_ROOM);
    return 1;
  }
  return 0;
}

int cli_check_outdir(const char *cmd, const char *flag, const char *dir) { return check_name(cmd, flag, dir); }

long cli_config_line(char *line, long len, long lineno) {
  if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
    memmove(line, line + 3, (size_t)len - 2); /* with the terminating NUL */
    len -= 3;
  }
  while (len > 0 && strchr("\n\r \t", line[len - 1]) && line[len - 1]) line[--len] = 0;
  return len == 0 || line[0] == '#' ? -1 : len;
}

int cli_check_output(const char *cmd, const char *out) {
  if (check_name(cmd, "-o", out)) return 1;
  if (out[strlen(out) - 1] == '/') {
    cli_error("%s: -o %s names a directory (it ends in /); give a file name", cmd, out);
    return 1;
  }
  struct stat st;
  if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
    cli_error("%s: -o %s is a directory; give a file name", cmd, out);
    return 1;
  }
  char dir[4096];
  const char *slash = strrchr(out, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == out) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    cli_error("%s: cannot write -o %s: directory %s does not exist", cmd, out, dir);
    return 1;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    cli_error("%s: cannot write -o %s: directory %s is not writable (%s)", cmd, out, dir, strerror(errno));
    return 1;
  }
  return 0;
}

int cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return 0;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  }
  return 0;
}

static void usage(FILE *out) {
  fprintf(out, "usage: eahas <command> [options]   (eahas <command> --help for details)\n\n"
               "Energy-aware hyperparameter and architecture search benchmark (EA-HAS-Bench in C).\n\n"
               "commands:\n");
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 1;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("eahas %s\n", eahas_version());
    return 0;
  }
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].fn(argc - 1, argv + 1);
  cli_error("unknown command '%s'", argv[1]);
  usage(stderr);
  return 1;
}

void cli_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

void cli_print_text(FILE *f, const char *s) {
  for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}
