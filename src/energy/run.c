/* Measuring a command: fork, start the meter, let the child exec, wait4, read. The child waits
 * on a pipe until the meter has started so that the measurement covers the whole command, and
 * reports an exec failure through a close-on-exec pipe (EOF there means exec succeeded). */
#include "energy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: async-signal-safe calls only (the parent may have threads, e.g. NVML's). */
static void child_exec(char *const argv[], int go_fd, int err_fd, const struct sigaction *old_int,
                       const struct sigaction *old_quit) {
  sigaction(SIGINT, old_int, NULL);
  sigaction(SIGQUIT, old_quit, NULL);
  char c;
  while (read(go_fd, &c, 1) < 0 && errno == EINTR) {}
  close(go_fd);
  execvp(argv[0], argv);
  int e = errno;
  ssize_t w = write(err_fd, &e, sizeof e);
  (void)w;
  _exit(e == ENOENT ? 127 : 126);
}

static void close_pair(int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
}

static double tv_s(struct timeval t) { return (double)t.tv_sec + 1e-6 * (double)t.tv_usec; }

int eahas_energy_run(const eahas_meter_opts *o, char *const argv[], eahas_energy_run_result *res,
                     eahas_err *err) {
  memset(res, 0, sizeof *res);
  if (!argv || !argv[0] || !argv[0][0])
    return eahas_err_set(err, EAHAS_EINVAL, "no command to measure");
  eahas_meter_opts mo = {0};
  if (o) mo = *o;
  mo.pid = 0; /* the estimate follows the child once it exists */
  eahas_meter *m;
  int rc = eahas_meter_open(&mo, &m, err);
  if (rc != 0) return rc;
  snprintf(res->note, sizeof res->note, "%s", eahas_meter_note(m));
  int go[2] = {-1, -1}, ep[2] = {-1, -1};
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "pipe: %s", strerror(errno));
    close_pair(go);
    eahas_meter_close(m);
    return rc;
  }
  struct sigaction ign, old_int, old_quit;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    close(ep[0]);
    child_exec(argv, go[0], ep[1], &old_int, &old_quit);
  }
  if (pid < 0) {
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "fork: %s", strerror(errno));
    goto out;
  }
  close(go[0]), go[0] = -1;
  close(ep[1]), ep[1] = -1;
  eahas_meter_set_pid(m, pid);
  rc = eahas_meter_start(m, err);
  if (rc != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto out;
  }
  char c = 'g';
  ssize_t w = write(go[1], &c, 1);
  (void)w;
  close(go[1]), go[1] = -1;
  int exec_errno = 0;
  ssize_t got;
  do got = read(ep[0], &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  if (got != (ssize_t)sizeof exec_errno) exec_errno = 0;
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t r;
  do r = wait4(pid, &status, 0, &ru);
  while (r < 0 && errno == EINTR);
  res->cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
  res->max_rss_gib = (double)ru.ru_maxrss / (1024.0 * 1024.0);
  eahas_meter_set_child_usage(m, res->cpu_s, res->max_rss_gib);
  int mrc = eahas_meter_stop(m, &res->reading, err);
  if (r < 0) {
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "wait4(%ld): %s", (long)pid, strerror(errno));
    goto out;
  }
  if (WIFSIGNALED(status)) {
    res->term_signal = WTERMSIG(status);
    res->exit_status = 128 + res->term_signal;
  } else {
    res->exit_status = WEXITSTATUS(status);
  }
  if (exec_errno != 0) {
    rc = eahas_err_set(err, EAHAS_ENOTFOUND, "cannot run '%s': %s", argv[0], strerror(exec_errno));
    goto out;
  }
  rc = mrc;
out:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  close_pair(go);
  close_pair(ep);
  eahas_meter_close(m);
  return rc;
}
