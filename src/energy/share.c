/* Whether another eahas run shared a measured domain (issue 4, item 5; energy.h explains the
 * protocol). Two files per domain in the lock directory:
 *   <domain>.lock  held with a shared flock by every run for its whole duration;
 *   <domain>.seq   a decimal count of runs begun, changed under an exclusive flock of itself,
 *                  which also serialises begins so that "test then hold" is atomic.
 * Any run overlapping ours either began before us and still held its .lock at our begin, or
 * began during our run and moved .seq past our own number: the two checks cover both cases. */
#include "energy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DIR "/tmp/eahas-locks"

struct eahas_domain_share {
  int n;
  char dir[PATH_MAX];
  char names[EAHAS_MAX_DOMAINS][32];
  int lock_fd[EAHAS_MAX_DOMAINS], seq_fd[EAHAS_MAX_DOMAINS];
  unsigned long long my_seq[EAHAS_MAX_DOMAINS];
  int shared_at_begin[EAHAS_MAX_DOMAINS];
};

const char *eahas_domain_share_default_dir(void) {
  const char *d = getenv("EAHAS_LOCK_DIR");
  return d && d[0] ? d : DEFAULT_DIR;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= 32 || s[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return 0;
  }
  return 1;
}

static int sys_err(eahas_err *err, const char *what, const char *path) {
  int e = errno;
  int code = (e == EACCES || e == EPERM) ? EAHAS_EPERM : EAHAS_EIO;
  return eahas_err_set(err, code, "%s %s: %s", what, path, strerror(e));
}

static int lock_wait(int fd, int op) {
  int r;
  do r = flock(fd, op);
  while (r != 0 && errno == EINTR);
  return r;
}

static int open_file(const char *dir, const char *name, const char *ext, int *fd, eahas_err *err) {
  char p[PATH_MAX + 48];
  snprintf(p, sizeof p, "%s/%s%s", dir, name, ext);
  *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (*fd < 0) return sys_err(err, "cannot open lock file", p);
  struct stat st;
  if (fstat(*fd, &st) == 0 && st.st_uid == geteuid()) fchmod(*fd, 0666); /* other users' runs too */
  return 0;
}

/* Reads the begin count of domain i; seq flock held. */
static int read_seq(eahas_domain_share *s, int i, unsigned long long *v, eahas_err *err) {
  char buf[32];
  ssize_t got = pread(s->seq_fd[i], buf, sizeof buf - 1, 0);
  if (got < 0) return eahas_err_set(err, EAHAS_EIO, "cannot read %s/%s.seq: %s", s->dir, s->names[i], strerror(errno));
  buf[got] = '\0';
  *v = got == 0 ? 0 : strtoull(buf, NULL, 10);
  return 0;
}

static int begin_one(eahas_domain_share *s, int i, eahas_err *err) {
  int rc = open_file(s->dir, s->names[i], ".seq", &s->seq_fd[i], err);
  if (rc == 0) rc = open_file(s->dir, s->names[i], ".lock", &s->lock_fd[i], err);
  if (rc != 0) return rc;
  if (lock_wait(s->seq_fd[i], LOCK_EX) != 0) return sys_err(err, "cannot lock", s->names[i]);
  /* Under the .seq lock no other begin runs, so nobody else holds .lock exclusively: failing to
   * take it means that some run holds it shared, i.e. is running now. */
  if (flock(s->lock_fd[i], LOCK_EX | LOCK_NB) == 0) {
    s->shared_at_begin[i] = 0;
  } else if (errno == EWOULDBLOCK) {
    s->shared_at_begin[i] = 1;
  } else {
    rc = sys_err(err, "cannot lock", s->names[i]);
  }
  if (rc == 0 && lock_wait(s->lock_fd[i], LOCK_SH) != 0) rc = sys_err(err, "cannot lock", s->names[i]);
  unsigned long long v = 0;
  if (rc == 0) rc = read_seq(s, i, &v, err);
  if (rc == 0) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%llu\n", v + 1);
    if (ftruncate(s->seq_fd[i], 0) != 0 || pwrite(s->seq_fd[i], buf, (size_t)len, 0) != len)
      rc = eahas_err_set(err, EAHAS_EIO, "cannot write %s/%s.seq: %s", s->dir, s->names[i], strerror(errno));
    s->my_seq[i] = v + 1;
  }
  flock(s->seq_fd[i], LOCK_UN);
  return rc;
}

static void free_share(eahas_domain_share *s) {
  for (int i = 0; i < s->n; i++) {
    if (s->lock_fd[i] >= 0) close(s->lock_fd[i]); /* releases the shared lock */
    if (s->seq_fd[i] >= 0) close(s->seq_fd[i]);
  }
  free(s);
}

static int make_dir(const char *dir, eahas_err *err) {
  if (strcmp(dir, DEFAULT_DIR) == 0) {
    /* Machine-wide, like /tmp itself: any user may add lock files, sticky so none deletes
     * another's. */
    if (mkdir(dir, 01777) == 0) chmod(dir, 01777);
    else if (errno != EEXIST) return sys_err(err, "cannot create lock directory", dir);
    return 0;
  }
  return eahas_mkdir_p(dir, err);
}

int eahas_domain_share_begin(const char *const *domains, int n, const char *lockdir,
                             eahas_domain_share **out, eahas_err *err) {
  *out = NULL;
  if (n < 1 || n > EAHAS_MAX_DOMAINS)
    return eahas_err_set(err, EAHAS_EINVAL, "%d domains to lock, expected 1 to %d", n, EAHAS_MAX_DOMAINS);
  for (int i = 0; i < n; i++)
    if (!domains[i] || !valid_name(domains[i]))
      return eahas_err_set(err, EAHAS_EINVAL, "domain name '%s' (number %d) is not 1-31 letters, "
                           "digits, '-', '_' or '.' (not starting with '.')",
                           domains[i] ? domains[i] : "(null)", i);
  const char *dir = lockdir ? lockdir : eahas_domain_share_default_dir();
  if (strlen(dir) >= PATH_MAX - 64)
    return eahas_err_set(err, EAHAS_EINVAL, "lock directory path is %zu characters, at most %d",
                         strlen(dir), PATH_MAX - 64);
  int rc = make_dir(dir, err);
  if (rc != 0) return rc;
  eahas_domain_share *s = calloc(1, sizeof *s);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory locking domains");
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  for (int i = 0; i < n; i++) {
    s->lock_fd[i] = s->seq_fd[i] = -1;
    snprintf(s->names[i], sizeof s->names[i], "%s", domains[i]);
  }
  s->n = n;
  for (int i = 0; i < n && rc == 0; i++) rc = begin_one(s, i, err);
  if (rc != 0) {
    free_share(s);
    return rc;
  }
  *out = s;
  return 0;
}

int eahas_domain_share_check(eahas_domain_share *s, int *shared, int *shared_per_domain, eahas_err *err) {
  int any = 0;
  for (int i = 0; i < s->n; i++) {
    if (lock_wait(s->seq_fd[i], LOCK_EX) != 0) return sys_err(err, "cannot lock", s->names[i]);
    unsigned long long v = 0;
    int rc = read_seq(s, i, &v, err);
    flock(s->seq_fd[i], LOCK_UN);
    if (rc != 0) return rc;
    int sh = s->shared_at_begin[i] || v != s->my_seq[i];
    if (shared_per_domain) shared_per_domain[i] = sh;
    any |= sh;
  }
  if (shared) *shared = any;
  return 0;
}

int eahas_domain_share_end(eahas_domain_share *s, int *shared, int *shared_per_domain, eahas_err *err) {
  if (!s) return eahas_err_set(err, EAHAS_EINVAL, "eahas_domain_share_end of NULL");
  int rc = eahas_domain_share_check(s, shared, shared_per_domain, err);
  free_share(s);
  return rc;
}
