/* eahas util: errors, seeded random streams, hashing, files written atomically, progress bar.
 *
 * Conventions (DESIGN.md): a fallible function returns 0 on success or a negative EAHAS_E* code
 * and, when given a non-NULL eahas_err, fills it with a message naming the offending value, the
 * allowed range and where it came from. The library never prints and never exits.
 */
#ifndef EAHAS_UTIL_H
#define EAHAS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------------------------- */

enum {
  EAHAS_OK = 0,
  EAHAS_EINVAL = -1,    /* bad input: a value out of range, off grid, unknown key ... */
  EAHAS_EIO = -2,       /* a file could not be read or written */
  EAHAS_ENOMEM = -3,    /* allocation failed */
  EAHAS_EFORMAT = -4,   /* a file exists but its content is malformed / of another version */
  EAHAS_ENOTFOUND = -5, /* a requested item is not there (config not recorded, no such preset) */
  EAHAS_EUNAVAIL = -6,  /* a facility is not available here (no GPU, no RAPL, no gnuplot) */
  EAHAS_EPERM = -7,     /* permission denied */
  EAHAS_EDIVERGED = -8, /* training produced NaN/Inf */
  EAHAS_ECONSTRAINT = -9, /* constraints could not be met within the attempt cap */
  EAHAS_EINTERNAL = -10 /* a bug or a failure of a dependency */
};

#define EAHAS_ERR_MSG_MAX 512

typedef struct eahas_err {
  int code;                     /* last error code, 0 if none */
  char msg[EAHAS_ERR_MSG_MAX];  /* human-readable message, NUL-terminated, possibly truncated */
} eahas_err;

/* Sets *err (if non-NULL) to code and the printf-formatted message; returns code so that
 * callers can write `return eahas_err_set(err, EAHAS_EINVAL, "...", ...);`. */
int eahas_err_set(eahas_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for adding where an error came from, e.g.
 * "line 12 of plan.jsonl"); returns err->code (or code if err is NULL). */
int eahas_err_prefix(eahas_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short name of an error code ("invalid input", "I/O error", ...). Never NULL. */
const char *eahas_strerror(int code);

/* Exit status of the CLI for an error code: 0 for EAHAS_OK, 1 for bad input (EINVAL, EFORMAT,
 * ENOTFOUND, ECONSTRAINT, EPERM, EUNAVAIL), 2 otherwise (DESIGN.md). */
int eahas_exit_status(int code);

/* ---- random numbers -------------------------------------------------------------------- */

/* xoshiro256** seeded through splitmix64 (Blackman & Vigna). Same seed, same stream on any
 * machine. Not thread-safe: one stream per thread. */
typedef struct eahas_rng {
  uint64_t s[4];
} eahas_rng;

/* Seeds the stream from a 64-bit seed. */
void eahas_rng_seed(eahas_rng *rng, uint64_t seed);
/* A stream keyed by (seed, key): independent streams for e.g. (seed, config hash, epoch),
 * for counter-based noise that does not depend on call order or thread scheduling. */
void eahas_rng_seed_key(eahas_rng *rng, uint64_t seed, uint64_t key);
/* Next 64 random bits. */
uint64_t eahas_rng_u64(eahas_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double eahas_rng_uniform(eahas_rng *rng);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t eahas_rng_below(eahas_rng *rng, uint64_t n);
/* Standard normal N(0, 1) (Box-Muller, no cached state so the stream stays reproducible). */
double eahas_rng_normal(eahas_rng *rng);

/* ---- hashing --------------------------------------------------------------------------- */

/* 64-bit FNV-1a of bytes, then a splitmix64 finalizer. Stable across machines and versions. */
uint64_t eahas_hash64(const void *data, size_t n);
/* Mixes a 64-bit value (splitmix64 finalizer). */
uint64_t eahas_mix64(uint64_t x);

/* ---- files ----------------------------------------------------------------------------- */

/* Writes n bytes to path atomically: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. On any failure the old file (if any) is untouched and the temporary
 * file removed. Errors, naming the path and the system error: EAHAS_ENOTFOUND (its directory
 * does not exist), EAHAS_EINVAL (path is a directory), EAHAS_EPERM (no permission, read-only
 * file system), EAHAS_EIO (any other failure, e.g. disk full). */
int eahas_write_file_atomic(const char *path, const void *data, size_t n, eahas_err *err);

/* Reads a whole file into a NUL-terminated malloc'd buffer (*out, caller frees); *n_out (may be
 * NULL) gets the length without the NUL. Refuses files larger than max_bytes (0 = 1 GiB).
 * Errors (each names path and the system error): EAHAS_ENOTFOUND (no such file or directory),
 * EAHAS_EPERM (permission denied), EAHAS_EINVAL (path is a directory), EAHAS_EIO (any other
 * failure to open or read), EAHAS_EFORMAT (too large). */
int eahas_read_file(const char *path, size_t max_bytes, char **out, size_t *n_out, eahas_err *err);

/* Creates a directory and its parents (mode 0755); an existing directory is success.
 * Errors: EAHAS_EINVAL (path or a parent is an existing non-directory), EAHAS_EPERM (no
 * permission, read-only file system), EAHAS_EIO (other failures); each names the path. */
int eahas_mkdir_p(const char *path, eahas_err *err);

/* ---- time ------------------------------------------------------------------------------ */

/* Monotonic wall clock in seconds (CLOCK_MONOTONIC). */
double eahas_now_s(void);
/* CPU time of this process, user + system, in seconds (all threads). */
double eahas_cpu_time_s(void);

/* ---- progress bar ---------------------------------------------------------------------- */

/* A one-line progress bar with ETA. Draws with '\r' when out is a terminal, otherwise prints a
 * plain line at most every `plain_every_s` seconds (and at the end). The library itself never
 * creates one with a real stream: the CLI passes stderr. */
typedef struct eahas_progress {
  FILE *out;
  const char *label;
  long total;
  long done;
  double t0, last_draw;
  int is_tty;
  double plain_every_s;
} eahas_progress;

void eahas_progress_begin(eahas_progress *p, FILE *out, const char *label, long total);
/* Sets the done count and an extra status text (may be NULL), redrawing if due. */
void eahas_progress_update(eahas_progress *p, long done, const char *status);
void eahas_progress_end(eahas_progress *p, const char *status);

/* ---- strings --------------------------------------------------------------------------- */

/* Checks that s[0..n) is valid UTF-8; returns the offset of the first bad byte or -1. */
long eahas_utf8_invalid_at(const char *s, size_t n);

/* Library version string, e.g. "0.1.0". */
const char *eahas_version(void);

#ifdef __cplusplus
}
#endif
#endif
