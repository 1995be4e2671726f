/* The `eahas` command: one function per top-level command, each in its own cli_<name>.c.
 * Each takes argc/argv starting at the command name and returns the exit status:
 * 0 success, 1 bad input, 2 internal failure (DESIGN.md). */
#ifndef EAHAS_CLI_H
#define EAHAS_CLI_H

int cli_space(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_energy(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_collect(int argc, char **argv);
int cli_table(int argc, char **argv);
int cli_fit(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_plot(int argc, char **argv);

/* Prints "eahas: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if argv[i] is --help or -h for any i in [1, argc). */
int cli_wants_help(int argc, char **argv);

#endif
