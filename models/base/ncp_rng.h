/* ncp_rng: the one random number generator (xoshiro256**, seeded through
 * splitmix64).  Every random draw in ncpd comes from a config seed through
 * one of these, so a run is reproducible bit for bit. */
#ifndef NCP_RNG_H
#define NCP_RNG_H

#include <stdint.h>

struct ncp_rng {
	uint64_t s[4];
};

void ncp_rng_seed(struct ncp_rng *rng, uint64_t seed);
/* A seed for an independent stream: the same (seed, stream) gives the same
 * result; different streams are uncorrelated. */
uint64_t ncp_rng_derive(uint64_t seed, uint64_t stream);
uint64_t ncp_rng_next(struct ncp_rng *rng);
/* Uniform in [0, 1), 53 random bits. */
double ncp_rng_uniform(struct ncp_rng *rng);
double ncp_rng_range(struct ncp_rng *rng, double lo, double hi);
/* Standard normal (Box-Muller, one value per call). */
double ncp_rng_normal(struct ncp_rng *rng);
/* Uniform integer in [0, n). */
uint64_t ncp_rng_below(struct ncp_rng *rng, uint64_t n);

#endif
