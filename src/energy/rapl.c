/* RAPL through the powercap sysfs tree (Linux Documentation/power/powercap/powercap.rst).
 *
 * Zones are <type>:N (a package, sometimes psys or dram) and <type>:N:M (its sub-zones: core,
 * uncore, dram). /sys/class/powercap lists every zone flat; under /sys/devices the sub-zones
 * are also nested in their parent's directory; we accept both. Counted: packages and dram; never
 * core or uncore (they are inside their package), never psys when a package is counted (psys
 * covers the whole platform, packages included), never intel-rapl-mmio (the same package read
 * through MMIO). energy_uj wraps to 0 after max_energy_range_uj, so the meter polls at least
 * twice per wrap period at a generous maximum power (MAX_DOMAIN_POWER_W). */
#include "energy/internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ROOT "/sys/class/powercap"
#define DEFAULT_INTERVAL_S 1.0
#define MAX_INTERVAL_S 5.0          /* "at least every few seconds", whatever the range */
#define MIN_INTERVAL_S 0.001
#define MAX_DOMAIN_POWER_W 1000.0   /* above any CPU package or DIMM set sold so far */
#define MAX_CANDIDATES 128

typedef struct {
  char energy_path[PATH_MAX + 32];
  uint64_t max_uj, prev_uj, acc_uj;
} zone;

typedef struct {
  int n;
  zone z[EAHAS_MAX_DOMAINS];
} rapl_state;

typedef struct {
  char entry[64];       /* directory name, e.g. intel-rapl:0:1 */
  char path[PATH_MAX];  /* its directory */
  char type[40];        /* intel-rapl, amd-rapl ... */
  int n, m;             /* zone numbers; m = -1 for a top-level zone */
  char name[64];        /* content of its name file */
} candidate;

typedef struct {
  char domain[32];
  int kind; /* 0 package, 1 dram, 2 psys: the order of domains in readings */
  int key;
  const candidate *c;
} chosen;

/* Parses "<type>:N" or "<type>:N:M"; 0 on success. */
static int parse_entry(const char *entry, candidate *c) {
  const char *colon = strchr(entry, ':');
  if (!colon || colon == entry || (size_t)(colon - entry) >= sizeof c->type) return -1;
  memcpy(c->type, entry, (size_t)(colon - entry));
  c->type[colon - entry] = '\0';
  int n, m, used = 0;
  if (sscanf(colon, ":%d:%d%n", &n, &m, &used) == 2 && colon[used] == '\0' && n >= 0 && m >= 0) {
    c->n = n;
    c->m = m;
    return 0;
  }
  if (sscanf(colon, ":%d%n", &n, &used) == 1 && colon[used] == '\0' && n >= 0) {
    c->n = n;
    c->m = -1;
    return 0;
  }
  return -1;
}

static int seen(const candidate *cs, int nc, const char *entry) {
  for (int i = 0; i < nc; i++)
    if (strcmp(cs[i].entry, entry) == 0) return 1;
  return 0;
}

/* Adds the zones found in dir (a powercap root or a zone directory); returns the new count. */
static int scan_dir(const char *dir, candidate *cs, int nc) {
  DIR *d = opendir(dir);
  if (!d) return nc;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && nc < MAX_CANDIDATES) {
    candidate c;
    memset(&c, 0, sizeof c);
    if (strlen(de->d_name) >= sizeof c.entry || parse_entry(de->d_name, &c) != 0) continue;
    if (strstr(c.type, "mmio")) continue; /* same package as <type>:N, read through MMIO */
    if (seen(cs, nc, de->d_name)) continue;
    memcpy(c.entry, de->d_name, strlen(de->d_name) + 1); /* length checked above */
    snprintf(c.path, sizeof c.path, "%s/%s", dir, de->d_name);
    cs[nc++] = c;
  }
  closedir(d);
  return nc;
}

static int cmp_candidate(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  int t = strcmp(x->type, y->type);
  if (t) return t;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  return x->m < y->m ? -1 : x->m > y->m;
}

static int cmp_chosen(const void *a, const void *b) {
  const chosen *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

static const char *perm_hint(void) {
  return " (RAPL energy files are readable only by root since Linux 5.10, CVE-2020-8694); grant "
         "read access with `sudo chmod o+r /sys/class/powercap/*/energy_uj` (until reboot) or a "
         "udev rule (docs/energy.md), run as root, or try --meter perf";
}

/* Appends the hint to an EAHAS_EPERM message; returns rc. */
static int with_hint(int rc, eahas_err *err) {
  if (rc == EAHAS_EPERM && err) {
    char msg[EAHAS_ERR_MSG_MAX];
    memcpy(msg, err->msg, sizeof msg);
    eahas_err_set(err, rc, "%s%s", msg, perm_hint());
  }
  return rc;
}

static int read_zone_file(const candidate *c, const char *file, char *buf, size_t n, eahas_err *err) {
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/%s", c->path, file);
  return with_hint(eahas_energy_read_text(p, buf, n, err), err);
}

/* Package index of the parent of sub-zone c, from the parent's name "package-K", else N. */
static int parent_package(const candidate *cs, int nc, const candidate *c) {
  for (int i = 0; i < nc; i++) {
    int k;
    if (cs[i].m < 0 && cs[i].n == c->n && strcmp(cs[i].type, c->type) == 0 &&
        sscanf(cs[i].name, "package-%d", &k) == 1)
      return k;
  }
  return c->n;
}

static int already(const chosen *ch, int n, const char *domain) {
  for (int i = 0; i < n; i++)
    if (strcmp(ch[i].domain, domain) == 0) return 1;
  return 0;
}

/* Decides which zones are counted (see the file comment). */
static int choose(const candidate *cs, int nc, chosen *ch) {
  int n = 0, have_package = 0;
  for (int i = 0; i < nc && n < MAX_CANDIDATES; i++) {
    const candidate *c = &cs[i];
    chosen x = {.c = c};
    int k;
    if (c->m < 0 && sscanf(c->name, "package-%d", &k) == 1) {
      x.kind = 0, x.key = k, have_package = 1;
      snprintf(x.domain, sizeof x.domain, "package-%d", k);
    } else if (strcmp(c->name, "dram") == 0) {
      x.kind = 1, x.key = c->m < 0 ? c->n : parent_package(cs, nc, c);
      snprintf(x.domain, sizeof x.domain, "dram-%d", x.key);
    } else if (c->m < 0 && strcmp(c->name, "psys") == 0) {
      x.kind = 2, x.key = c->n;
      snprintf(x.domain, sizeof x.domain, c->n ? "psys-%d" : "psys", c->n);
    } else {
      continue; /* core, uncore, gpu sub-zones: inside their package */
    }
    if (!already(ch, n, x.domain)) ch[n++] = x;
  }
  if (have_package) { /* psys includes the packages: drop it */
    int k = 0;
    for (int i = 0; i < n; i++)
      if (ch[i].kind != 2) ch[k++] = ch[i];
    n = k;
  }
  qsort(ch, (size_t)n, sizeof *ch, cmp_chosen);
  return n;
}

static int rapl_read_all(eahas_energy_backend *b, eahas_err *err, int accumulate) {
  rapl_state *s = b->state;
  for (int i = 0; i < s->n; i++) {
    zone *z = &s->z[i];
    uint64_t cur;
    int rc = with_hint(eahas_energy_read_u64(z->energy_path, &cur, err), err);
    if (rc != 0) return rc;
    if (accumulate) {
      z->acc_uj += eahas_energy_wrap_delta(z->prev_uj, cur, z->max_uj);
      b->energy_j[i] = (double)z->acc_uj * 1e-6;
    }
    z->prev_uj = cur;
  }
  return 0;
}

static int rapl_start(eahas_energy_backend *b, double now, eahas_err *err) {
  (void)now;
  rapl_state *s = b->state;
  for (int i = 0; i < s->n; i++) s->z[i].acc_uj = 0;
  return rapl_read_all(b, err, 0);
}

static int rapl_poll(eahas_energy_backend *b, double now, eahas_err *err) {
  (void)now;
  return rapl_read_all(b, err, 1);
}

static void rapl_close(eahas_energy_backend *b) {
  free(b->state);
  b->state = NULL;
}

/* Reads max_energy_range_uj and one energy_uj of every chosen zone, so that a missing or
 * unreadable file is reported when the meter opens, not in the middle of a run. */
static int setup_zones(const chosen *ch, int n, rapl_state *s, eahas_energy_backend *b, eahas_err *err) {
  char buf[64];
  for (int i = 0; i < n; i++) {
    const candidate *c = ch[i].c;
    zone *z = &s->z[i];
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/max_energy_range_uj", c->path);
    int rc = with_hint(eahas_energy_read_u64(p, &z->max_uj, err), err);
    if (rc != 0) return rc;
    if (z->max_uj == 0)
      return eahas_err_set(err, EAHAS_EFORMAT, "%s is 0: cannot handle counter wraparound", p);
    snprintf(z->energy_path, sizeof z->energy_path, "%s/energy_uj", c->path);
    rc = read_zone_file(c, "energy_uj", buf, sizeof buf, err);
    if (rc != 0) return rc;
    snprintf(b->names[i], sizeof b->names[i], "%s", ch[i].domain);
  }
  s->n = n;
  b->n_domains = n;
  return 0;
}

int eahas_energy_rapl_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err) {
  const char *root = o->powercap_root ? o->powercap_root : DEFAULT_ROOT;
  DIR *d = opendir(root);
  if (!d)
    return eahas_err_set(err, EAHAS_EUNAVAIL, "no RAPL: cannot open %s: %s (no powercap driver: "
                         "not an Intel/AMD CPU, a VM, or intel_rapl_common not loaded)",
                         root, strerror(errno));
  closedir(d);
  candidate *cs = calloc(MAX_CANDIDATES, sizeof *cs);
  chosen *ch = calloc(MAX_CANDIDATES, sizeof *ch);
  rapl_state *s = calloc(1, sizeof *s);
  int rc = 0;
  if (!cs || !ch || !s) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening RAPL");
    goto done;
  }
  int nc = scan_dir(root, cs, 0);
  for (int i = 0, top = nc; i < top; i++)
    if (cs[i].m < 0) nc = scan_dir(cs[i].path, cs, nc); /* nested layout of /sys/devices */
  qsort(cs, (size_t)nc, sizeof *cs, cmp_candidate);
  for (int i = 0; i < nc && rc == 0; i++) rc = read_zone_file(&cs[i], "name", cs[i].name, sizeof cs[i].name, err);
  if (rc != 0) goto done;
  int n = choose(cs, nc, ch);
  if (n == 0) {
    rc = eahas_err_set(err, EAHAS_EUNAVAIL, "no RAPL: no package or dram zone under %s (%d zones seen)",
                       root, nc);
    goto done;
  }
  if (n > EAHAS_MAX_DOMAINS) {
    rc = eahas_err_set(err, EAHAS_EUNAVAIL, "%d RAPL domains under %s, at most %d are supported", n,
                       root, EAHAS_MAX_DOMAINS);
    goto done;
  }
  rc = setup_zones(ch, n, s, b, err);
  if (rc != 0) goto done;
  double cap = MAX_INTERVAL_S;
  for (int i = 0; i < n; i++) {
    double safe = eahas_energy_rapl_safe_interval(s->z[i].max_uj, MAX_DOMAIN_POWER_W);
    if (safe < cap) cap = safe;
  }
  if (cap < MIN_INTERVAL_S) cap = MIN_INTERVAL_S;
  double iv = o->interval_s > 0 ? o->interval_s : DEFAULT_INTERVAL_S;
  b->interval_s = iv < cap ? iv : cap;
  snprintf(b->method, sizeof b->method, "rapl");
  b->update_period_s = 0.001; /* RAPL MSRs update about every 1 ms (Haehnel et al., SIGMETRICS PER 2012) */
  snprintf(b->params, sizeof b->params, "rapl_interval_s=%g", b->interval_s);
  b->state = s;
  s = NULL;
  b->start = rapl_start;
  b->poll = rapl_poll;
  b->close = rapl_close;
done:
  free(cs);
  free(ch);
  free(s);
  return rc;
}
