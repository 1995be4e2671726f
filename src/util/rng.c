/* Seeded random streams and stable hashes. xoshiro256** and splitmix64 are from Blackman &
 * Vigna, "Scrambled linear pseudorandom number generators" (2021); written from the paper. */
#include "eahas/util.h"

#include <math.h>

uint64_t eahas_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void eahas_rng_seed(eahas_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ULL;
    rng->s[i] = eahas_mix64(x);
  }
  /* The all-zero state is a fixed point; splitmix output makes it practically impossible but we
   * guard anyway. */
  if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3])) rng->s[0] = 1;
}

void eahas_rng_seed_key(eahas_rng *rng, uint64_t seed, uint64_t key) {
  eahas_rng_seed(rng, eahas_mix64(seed) ^ eahas_mix64(key ^ 0x5851f42d4c957f2dULL));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t eahas_rng_u64(eahas_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double eahas_rng_uniform(eahas_rng *rng) {
  return (double)(eahas_rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t eahas_rng_below(eahas_rng *rng, uint64_t n) {
  if (n <= 1) return 0;
  /* Rejection of the short top interval removes modulo bias. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = eahas_rng_u64(rng);
  while (x >= limit);
  return x % n;
}

double eahas_rng_normal(eahas_rng *rng) {
  double u1 = 1.0 - eahas_rng_uniform(rng); /* (0, 1] so log is finite */
  double u2 = eahas_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t eahas_hash64(const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return eahas_mix64(h);
}
