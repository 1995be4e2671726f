/* Surrogate blobs as format 1 wrote them, for the tests of format-1 reading (test_fit,
 * test_bench_slow). Format 2 added the u32 field "shared" after the header's 8 ints and a runs
 * hash that covers values (format 1's covered ids and epochs). */
#ifndef EAHAS_TESTS_BLOB1_H
#define EAHAS_TESTS_BLOB1_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "eahas/util.h"

/* Byte offset of the format-2 field "shared" in a blob of s: magic, version, two strings, 8 ints;
 * the runs hash follows it. */
static size_t shared_offset(const eahas_surrogate *s) {
  return 8 + 4 + 4 + strlen(s->feature_spec) + 4 + strlen(s->preset) + 8 * 4;
}

/* The blob's trailing checksum recomputed after an edit. */
static void reseal(unsigned char *blob, size_t len) {
  uint64_t h = eahas_hash64(blob, len - 8);
  for (int i = 0; i < 8; i++) blob[len - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
}

/* The format-2 blob b2 (l2 bytes) of s, a per-curve set, as format 1: without the "shared"
 * field, version 1, the runs hash replaced by *runs_hash when not NULL, resealed. malloc'd,
 * *l1 = l2 - 4. */
static unsigned char *as_format1(const eahas_surrogate *s, const unsigned char *b2, size_t l2,
                                 const uint64_t *runs_hash, size_t *l1) {
  size_t off = shared_offset(s);
  *l1 = l2 - 4;
  unsigned char *b1 = malloc(*l1);
  if (!b1) return NULL;
  memcpy(b1, b2, off);
  memcpy(b1 + off, b2 + off + 4, l2 - off - 4);
  b1[8] = 1;
  if (runs_hash)
    for (int i = 0; i < 8; i++) b1[off + (size_t)i] = (unsigned char)(*runs_hash >> (8 * i));
  reseal(b1, *l1);
  return b1;
}
#endif
