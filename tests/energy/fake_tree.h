/* Test helpers: fake powercap trees in a temporary directory, written the way sysfs presents
 * them (one value per file). Values are replaced atomically (write + rename) because the meter's
 * polling thread may read them at any moment. */
#ifndef EAHAS_TEST_FAKE_TREE_H
#define EAHAS_TEST_FAKE_TREE_H

/* Test paths are short temporary directories; GCC cannot know that. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((unused)) static void ft_write(const char *path, const char *text) {
  char tmp[2 * PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    perror(tmp);
    abort();
  }
  fputs(text, f);
  fclose(f);
  if (rename(tmp, path) != 0) {
    perror(path);
    abort();
  }
}

__attribute__((unused)) static void ft_writef(const char *dir, const char *file, const char *fmt, unsigned long long v) {
  char p[2 * PATH_MAX], text[64];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  snprintf(text, sizeof text, fmt, v);
  ft_write(p, text);
}

/* Makes <root>/<entry> with name, energy_uj and max_energy_range_uj (each skipped if NULL / 0
 * where noted); returns the zone directory in a static buffer. */
__attribute__((unused)) static const char *ft_zone(const char *root, const char *entry, const char *name,
                           unsigned long long energy_uj, unsigned long long max_uj) {
  static char dir[PATH_MAX];
  if (strlen(root) + strlen(entry) + 2 > sizeof dir) abort();
  snprintf(dir, sizeof dir, "%s/%s", root, entry);
  mkdir(dir, 0755);
  if (name) {
    char p[2 * PATH_MAX], text[64];
    snprintf(p, sizeof p, "%s/name", dir);
    snprintf(text, sizeof text, "%s\n", name);
    ft_write(p, text);
  }
  ft_writef(dir, "energy_uj", "%llu\n", energy_uj);
  if (max_uj) ft_writef(dir, "max_energy_range_uj", "%llu\n", max_uj);
  return dir;
}

__attribute__((unused)) static void ft_set(const char *root, const char *entry, unsigned long long energy_uj) {
  char dir[2 * PATH_MAX];
  snprintf(dir, sizeof dir, "%s/%s", root, entry);
  ft_writef(dir, "energy_uj", "%llu\n", energy_uj);
}

__attribute__((unused)) static char *ft_root(void) {
  char tmpl[] = "/tmp/eahas-powercap-XXXXXX";
  char *d = mkdtemp(tmpl);
  if (!d) abort();
  return strdup(d);
}

__attribute__((unused)) static void ft_rm(const char *root) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

/* |a - b| <= tol, printing both on failure (this cmocka lacks assert_double_equal). */
#define assert_double_equal(a, b, tol)                                                           \
  do {                                                                                           \
    double a_ = (a), b_ = (b);                                                                   \
    if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.12g, expected %.12g (tolerance %g)", #a, a_, b_, \
                                            (double)(tol));                                      \
  } while (0)

#endif
