/* Files written atomically, whole-file reads, mkdir -p, clocks. */
#include "eahas/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void fsync_parent(const char *path) {
  char *copy = strdup(path);
  if (!copy) return;
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  free(copy);
}

/* A path that names nothing, a directory or a file we may not read or write is the caller's input
 * being wrong (exit status 1); anything else is an I/O failure (exit status 2). */
static int path_errno_code(int e) {
  if (e == ENOENT || e == ENOTDIR) return EAHAS_ENOTFOUND;
  if (e == EACCES || e == EPERM || e == EROFS) return EAHAS_EPERM;
  if (e == EISDIR) return EAHAS_EINVAL;
  return EAHAS_EIO;
}

int eahas_write_file_atomic(const char *path, const void *data, size_t n, eahas_err *err) {
  size_t len = strlen(path) + 64;
  char *tmp = malloc(len);
  if (!tmp) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", path);
  static unsigned counter;
  snprintf(tmp, len, "%s.tmp.%ld.%u", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return eahas_err_set(err, path_errno_code(e), "cannot create %s: %s", path, strerror(e));
  }
  if (write_all(fd, data, n) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    free(tmp);
    return eahas_err_set(err, EAHAS_EIO, "cannot write %s: %s", path, strerror(e));
  }
  if (close(fd) != 0) {
    int e = errno;
    unlink(tmp);
    free(tmp);
    return eahas_err_set(err, EAHAS_EIO, "cannot write %s: %s", path, strerror(e));
  }
  if (rename(tmp, path) != 0) { /* EISDIR: path is a directory */
    int e = errno;
    unlink(tmp);
    free(tmp);
    return eahas_err_set(err, path_errno_code(e), "cannot write %s: %s", path, strerror(e));
  }
  free(tmp);
  fsync_parent(path);
  return EAHAS_OK;
}

int eahas_read_file(const char *path, size_t max_bytes, char **out, size_t *n_out, eahas_err *err) {
  if (max_bytes == 0) max_bytes = (size_t)1 << 30;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return eahas_err_set(err, path_errno_code(e), "cannot open %s: %s", path, strerror(e));
  }
  size_t cap = max_bytes < 4096 ? max_bytes : 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading %s", path);
  }
  for (;;) {
    if (n == cap) {
      if (cap >= max_bytes) break;
      cap = cap * 2 > max_bytes ? max_bytes : cap * 2;
      char *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading %s", path);
      }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (n == max_bytes && fgetc(f) != EOF) {
    free(buf);
    fclose(f);
    return eahas_err_set(err, EAHAS_EFORMAT, "%s is larger than the limit of %zu bytes", path, max_bytes);
  }
  int bad = ferror(f), e = errno;
  fclose(f);
  if (bad) {
    free(buf);
    return eahas_err_set(err, path_errno_code(e), "cannot read %s: %s", path, strerror(e));
  }
  buf[n] = '\0';
  *out = buf;
  if (n_out) *n_out = n;
  return EAHAS_OK;
}

int eahas_mkdir_p(const char *path, eahas_err *err) {
  char *p = strdup(path);
  if (!p) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        /* a file where a directory should be is the caller's input (exit 1), like no permission */
        int code = e == EACCES || e == EPERM || e == EROFS ? EAHAS_EPERM : e == ENOTDIR ? EAHAS_EINVAL : EAHAS_EIO;
        int rc = eahas_err_set(err, code, "cannot create directory %s: %s", p, strerror(e));
        free(p);
        return rc;
      }
      *s = c;
      if (c == '\0') break;
    }
  }
  struct stat st;
  int ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  free(p);
  if (!ok) return eahas_err_set(err, EAHAS_EINVAL, "%s exists and is not a directory", path);
  return EAHAS_OK;
}

double eahas_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double eahas_cpu_time_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
