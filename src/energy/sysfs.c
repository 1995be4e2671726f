/* Small text-file readers for sysfs, and the pure helpers the backends share. */
#include "energy/internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int (*eahas_energy_open_hook)(const char *path, int flags) = NULL;

int eahas_energy_read_text(const char *path, char *buf, size_t n, eahas_err *err) {
  int fd = eahas_energy_open_hook ? eahas_energy_open_hook(path, O_RDONLY | O_CLOEXEC)
                                  : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    int code = (e == EACCES || e == EPERM) ? EAHAS_EPERM : EAHAS_EIO;
    return eahas_err_set(err, code, "cannot read %s: %s", path, strerror(e));
  }
  ssize_t got;
  do got = read(fd, buf, n - 1);
  while (got < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (got < 0) {
    int code = (e == EACCES || e == EPERM) ? EAHAS_EPERM : EAHAS_EIO;
    return eahas_err_set(err, code, "cannot read %s: %s", path, strerror(e));
  }
  buf[got] = '\0';
  while (got > 0 && isspace((unsigned char)buf[got - 1])) buf[--got] = '\0';
  return 0;
}

int eahas_energy_read_u64(const char *path, uint64_t *out, eahas_err *err) {
  char buf[64];
  int rc = eahas_energy_read_text(path, buf, sizeof buf, err);
  if (rc != 0) return rc;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (buf[0] == '\0' || buf[0] == '-' || *end != '\0' || errno != 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s holds '%s', expected an unsigned integer", path, buf);
  *out = v;
  return 0;
}

uint64_t eahas_energy_wrap_delta(uint64_t prev, uint64_t cur, uint64_t max) {
  if (cur >= prev) return cur - prev;
  return (max - prev) + cur;
}

double eahas_energy_rapl_safe_interval(uint64_t max_range_uj, double max_power_w) {
  double wrap_period_s = (double)max_range_uj * 1e-6 / max_power_w;
  return 0.5 * wrap_period_s;
}

int eahas_energy_parse_cpulist(const char *s, int *cpus, int max) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10);
    if (end == p || a < 0) return -1;
    long b = a;
    p = end;
    if (*p == '-') {
      p++;
      b = strtol(p, &end, 10);
      if (end == p || b < a) return -1;
      p = end;
    }
    for (long c = a; c <= b; c++) {
      if (n >= max) return -1;
      cpus[n++] = (int)c;
    }
    if (*p == ',') p++;
    else if (*p != '\0' && !isspace((unsigned char)*p)) return -1;
    else while (isspace((unsigned char)*p)) p++;
  }
  return n;
}

int eahas_energy_parse_perf_event(const char *s, uint64_t *config) {
  if (strncmp(s, "event=", 6) != 0) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s + 6, &end, 0);
  if (end == s + 6 || errno != 0) return -1;
  while (isspace((unsigned char)*end)) end++;
  if (*end != '\0') return -1; /* umask= or other terms: not a power-PMU event we know */
  *config = v;
  return 0;
}
