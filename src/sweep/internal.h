/* Internal to the sweep module: paths of a sweep directory and child processes. */
#ifndef EAHAS_SWEEP_INTERNAL_H
#define EAHAS_SWEEP_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "eahas/sweep.h"

#define SWEEP_PATH_MAX 4096

/* DIR/<sub>/<id><suffix> into buf. Returns 0, or EAHAS_EINVAL if it does not fit. */
int sweep_path(char *buf, size_t n, const char *dir, const char *sub, const char *id, const char *suffix,
               eahas_err *err);
/* Creates DIR and its records/, failed/, logs/, tmp/ folders. */
int sweep_dirs(const char *dir, eahas_err *err);
/* Attempts recorded in DIR/failed/<id>.json (0 if none or unreadable). */
int sweep_failed_attempts(const char *dir, const char *id, char *reason, size_t n);
/* Forks; in the child: dies with the parent (PR_SET_PDEATHSIG SIGKILL), stdout/stderr to the
 * given fds (-1: unchanged), then execv(argv[0], argv). Returns the child pid or -1. */
pid_t sweep_spawn(char *const argv[], int out_fd, int err_fd);
/* The trainer child in flight (0: none): a termination signal to run-one is forwarded to it as
 * SIGKILL, and the run is then redone rather than counted as a failure. */
void sweep_set_child(pid_t pid);
/* A wait status in words: "exited with status 3", "was killed by signal 9 (Killed)". */
void sweep_describe_status(int status, char *buf, size_t n);
/* The last non-empty line of a text file (at most n - 1 bytes), or "". */
void sweep_last_line(const char *path, char *buf, size_t n);
/* Host name and CPU model of this machine. */
void sweep_machine(char *host, size_t nh, char *cpu, size_t nc);

/* The external trainer protocol (external.c): fills r (initialised inside) from the trainer's
 * output, or fails with the reason in err. log_fd receives the trainer's standard error. */
int sweep_run_external(const eahas_plan_entry *e, const eahas_sweep_opts *o, int limit, int log_fd,
                       eahas_run_record *r, eahas_err *err);

#endif
