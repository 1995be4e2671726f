/* The `eahas` command: one function per top-level command, each in its own cli_<name>.c.
 * Each takes argc/argv starting at the command name and returns the exit status:
 * 0 success, 1 bad input, 2 internal failure (DESIGN.md). */
#ifndef EAHAS_CLI_H
#define EAHAS_CLI_H

#include <stdio.h>

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

/* 0 if the output file `out` can be written (its directory exists and is writable, it is not
 * a directory); else prints why, naming cmd, and returns 1. Called before long work (training,
 * a measured command) so that a typo in -o does not throw that work away at the end. */
int cli_check_output(const char *cmd, const char *out);
/* 0 if `dir` can name an output directory (not empty, not too long to hold our files' names);
 * else prints why, naming cmd and the option flag, and returns 1. Whether it exists is for the
 * caller (most create it). */
int cli_check_outdir(const char *cmd, const char *flag, const char *dir);
/* Trims a line of a config list (stdin of `space validate` and `query -`) read by getline, of
 * length len: drops a UTF-8 byte order mark when lineno is 1 (editors on Windows write one) and
 * the line end with trailing blanks ("\n", "\r\n", spaces, tabs). Returns the length left, or -1
 * for a line that holds no config (empty or blank, or a comment starting with '#'). The caller
 * treats a length that differs from strlen(line) as an embedded NUL byte. */
long cli_config_line(char *line, long len, long lineno);
/* Writes s to f as a JSON string with its quotes, escaping quotes, backslashes and control
 * bytes (RFC 8259 §7); other bytes pass as they are (our texts are UTF-8). */
void cli_json_string(FILE *f, const char *s);
/* Writes s to f with every control byte (below 0x20, and 0x7f) shown as '?': texts read from a
 * benchmark file (provenance, reasons) may hold terminal escape sequences. */
void cli_print_text(FILE *f, const char *s);

#endif
