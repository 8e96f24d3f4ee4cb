/* ncp_recovery_rec: `ncp-train --cpn --data REC [REC...]`, the stimulation
 * EN and the CPN trained offline from recordings (docs/coprocessor.md,
 * "Training from recordings").
 *
 * A recording holds, per step, what the co-processor observes after it
 * (rec.npy, arm.npy), the electrode currents alpha after it (alpha.npy),
 * the target (target.npy) and the lesion in force (lesion.npy)
 * (docs/file-formats.md).  From them come the samples the simulated
 * protocol collects: at row t (every sample_every steps) the observation
 * after row t - 1, alpha and the target after row t, the arm state after
 * row t + H - 1; a sample needs its rows recorded (no dropped step) under
 * one lesion.  Healthy samples (no lesion and no stimulation over the
 * sample: every |alpha| <= 1e-3) fit the healthy reference; lesioned ones
 * (any stimulation) train the EN and the CPN, held out by blocks of time
 * for the EN's validation.  Training is the simulated protocol's
 * (ncp_recovery_en_start, ncp_recovery_cpn_epochs, ncp_recovery_en_check)
 * on the fixed data, for a number of rounds; the CPN is evaluated in the
 * closed loop by ncp_recovery_evaluate on the recordings' network.
 */
#ifndef NCP_RECOVERY_REC_H
#define NCP_RECOVERY_REC_H

#include <stddef.h>

#include "daemon/ncp_recovery.h"

/* Run it: prints the JSON result to stdout.  0 or -errno with a message
 * naming the recording, file, row or setting at fault. */
int ncp_recovery_rec_run(const struct ncp_recovery_opts *o, char *err,
			 size_t errlen);

#endif
