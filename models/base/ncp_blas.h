/* ncp_blas: OpenBLAS's kernels for this CPU.
 *
 * OpenBLAS picks its kernels when the library loads, from the CPU's
 * identification; a CPU it does not know gets its generic SSE3 kernels
 * (the "Prescott" core), several times slower than the CPU can go.  A
 * virtual CPU that identifies as an unnamed model is such a CPU
 * (docs/tuning.md).  OpenBLAS reads the environment variable
 * OPENBLAS_CORETYPE only at load, so the choice has to be made before
 * the program starts: ncp_blas_pick_core, called first thing in main,
 * sets it and runs the program again.
 */
#ifndef NCP_BLAS_H
#define NCP_BLAS_H

/* When OPENBLAS_CORETYPE is unset and OpenBLAS settled on its generic
 * Prescott kernels although the CPU (and the kernel) support AVX-512
 * (F, BW, DQ, VL) or AVX2 with FMA: set OPENBLAS_CORETYPE to SkylakeX or
 * Haswell and execute /proc/self/exe again with the same argv (which
 * does not return).  Otherwise, or when that fails, it returns and the
 * program goes on with the kernels it has.  A user's OPENBLAS_CORETYPE,
 * whatever its value, is left alone: setting it (e.g. to Prescott) turns
 * the choice off.  Call it before any thread starts or file is opened. */
void ncp_blas_pick_core(char **argv);

/* The core OpenBLAS runs ("SkylakeX", "Prescott", ...). */
const char *ncp_blas_core(void);

/* Flush denormal floats to zero in the calling thread (the SSE unit's
 * flush-to-zero and denormals-are-zero modes).  Training drives weight
 * gradients toward zero; once many of them fall below float's normal
 * range (1.2e-38) every multiply-add on them takes a microcode assist,
 * and an emulator training's epochs slowed five- to tenfold from about
 * the 15th epoch on.  Such values become 0, which no figure of a model
 * depends on.  Call at the start of each thread that trains (threads
 * inherit the mode from the thread that creates them; OpenBLAS's own
 * pool, made when the library loads, keeps the default). */
void ncp_fp_flush_denormals(void);

#endif
