#include "models/base/ncp_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void ncp_rng_seed(struct ncp_rng *rng, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t ncp_rng_derive(uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
	splitmix64(&x);
	return splitmix64(&x);
}

uint64_t ncp_rng_next(struct ncp_rng *rng)
{
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

double ncp_rng_uniform(struct ncp_rng *rng)
{
	return (double)(ncp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double ncp_rng_range(struct ncp_rng *rng, double lo, double hi)
{
	return lo + (hi - lo) * ncp_rng_uniform(rng);
}

double ncp_rng_normal(struct ncp_rng *rng)
{
	double u1, u2;
	do
		u1 = ncp_rng_uniform(rng);
	while (u1 <= 0.0);
	u2 = ncp_rng_uniform(rng);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t ncp_rng_below(struct ncp_rng *rng, uint64_t n)
{
	/* Rejection keeps the result exactly uniform. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = ncp_rng_next(rng);
	while (x >= limit);
	return x % n;
}
