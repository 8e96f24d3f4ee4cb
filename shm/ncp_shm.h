/* ncp_shm: the shared-memory ABI between ncpd and its readers.
 *
 * This header is the whole contract: the segment's layout as fixed-width
 * little-endian fields at fixed offsets (no pointers), the constants, and
 * the rules for reading it.  docs/shm.md describes the same layout for
 * readers in other languages.
 *
 * Segment (POSIX shm, default name "/ncpd"):
 *
 *   offset 0      struct ncp_shm_header (header_size bytes)
 *   blocks[i]     each block 64-byte aligned, located by the header's block
 *                 table {offset, size}, indexed by enum ncp_shm_block_id:
 *     WINDOW      ring of M1 spike bitsets, one entry per simulation step
 *     STATE       seqlock: the loop's state this step (arm, target, torque)
 *     PREDICTED   seqlock: the emulator's newest prediction
 *     ARM         ring: arm history for drawing traces
 *     STATS       seqlock: the loop's timing statistics
 *     TRAIN       ring: training history
 *     STIM        seqlock: electrodes (theta, alpha) and the lesion (1.3;
 *                 sized by header.stim_electrodes)
 *     NCP         seqlock: the co-processor (1.4)
 *
 * From 1.4 a window slot may carry, after its bitset, the step's
 * observation (header.obs_offset; see struct ncp_shm_win_slot).
 *
 * Two kinds of blocks:
 *  - seqlock block: word 0 is a sequence counter (0: never written; odd: a
 *    write is in progress; even: stable), the payload follows.  One writer.
 *    Read: load seq (must be even and non-zero), copy the payload, load seq
 *    again; the copy is good when both loads match.
 *  - ring block: struct ncp_shm_ring (64 bytes: head, slot count, slot size)
 *    then slot_count slots of slot_size bytes.  Entry k (k = 0, 1, ... in
 *    write order; head = entries written so far) lives in slot
 *    k & (slot_count - 1).  Word 0 of a slot is its sequence word:
 *    0 = never written, 2k+1 = entry k is being written, 2k+2 = entry k is
 *    complete.  Read entry k: load seq, must be 2k+2; copy; load seq again,
 *    must still be 2k+2.  Otherwise the writer lapped the reader: retry with
 *    a fresh head.  One writer; readers never write.
 *
 * Every word a writer changes while readers may look is a 64-bit word
 * accessed with atomic loads/stores (see ncp_ring.h, ncp_seqlock.h): C
 * readers must go through those modules, not read the structs in place.
 * The structs below describe the layout and are the type of a reader's
 * copy.
 *
 * Versioning (NCP_SHM_ABI_MAJOR / MINOR):
 *  - The first 64 bytes of the header (magic .. reserved0) keep their
 *    layout in every version, so any reader can identify a segment, its
 *    version and its owner's liveness.
 *  - Minor bump: only additions.  A new field goes into reserved words
 *    (zero in older writers, so zero must mean "absent"); a new block takes
 *    the next block-table index (older writers leave it {0, 0}); a block or
 *    a ring slot may grow at its end (readers copy the part they know and
 *    take a ring's slot size from its ring header).  Readers accept any
 *    minor version of their major version.
 *  - Major bump: anything else (a field moved, retyped or its meaning or
 *    unit changed).  Readers refuse a major version they were not built
 *    for.
 *  - The arm's joints (1.5): a segment of a 2-joint arm says 1.5; one of
 *    a 3-joint arm has the same layout but says 2.5
 *    (NCP_SHM_ABI_MAJOR_3J), because the observation's arm part grows
 *    with the joints and 1.x readers would misread it: they refuse it.
 *    Readers built for 1.5 read both (header.arm_joints tells).
 */
#ifndef NCP_SHM_H
#define NCP_SHM_H

#include <stddef.h>
#include <stdint.h>

#define NCP_SHM_MAGIC "NCPDSHM" /* 8 bytes with the terminating NUL */
#define NCP_SHM_ABI_MAJOR 1
#define NCP_SHM_ABI_MINOR 5
#define NCP_SHM_ABI_MAJOR_3J 2	/* a 3-joint arm's segment (above) */
#define NCP_SHM_MAX_JOINTS 3
#define NCP_SHM_DEFAULT_NAME "/ncpd"

#define NCP_SHM_ALIGN 64          /* every block and ring slot */
#define NCP_SHM_MAX_BLOCKS 16     /* entries in the block table */
#define NCP_SHM_STIM_CHANNELS 32  /* float32 stimulation values per step */
#define NCP_SHM_MAX_NEURONS 65536 /* M1 neurons a window slot may hold */
#define NCP_SHM_MODEL_NAME_LEN 32
#define NCP_SHM_JITTER_BINS 32
#define NCP_SHM_MAX_ELECTRODES 256 /* electrodes the stim block may hold */
/* Window slots beyond window_len, at least: steps a reader has to copy a
 * window before the writer can lap it; readers ask for at most
 * window_slots - NCP_SHM_WINDOW_MARGIN steps. */
#define NCP_SHM_WINDOW_MARGIN 16

/* header.state */
enum ncp_shm_state_word {
	NCP_SHM_STATE_NONE = 0,     /* being created: header not valid yet */
	NCP_SHM_STATE_STARTING = 1, /* header valid, the loop has not run */
	NCP_SHM_STATE_RUNNING = 2,
	NCP_SHM_STATE_STOPPED = 3, /* the daemon exited (or is exiting) */
};

/* Index into header.blocks. */
enum ncp_shm_block_id {
	NCP_SHM_BLK_WINDOW = 0,
	NCP_SHM_BLK_STATE = 1,
	NCP_SHM_BLK_PREDICTED = 2,
	NCP_SHM_BLK_ARM = 3,
	NCP_SHM_BLK_STATS = 4,
	NCP_SHM_BLK_TRAIN = 5,
	NCP_SHM_BLK_COUNT = 6, /* blocks defined by ABI 1.0 */
	NCP_SHM_BLK_STIM = 6,  /* ABI 1.3 */
	NCP_SHM_BLK_COUNT_1_3 = 7, /* blocks a 1.3 writer fills */
	NCP_SHM_BLK_NCP = 7,   /* ABI 1.4 */
	NCP_SHM_BLK_COUNT_1_4 = 8, /* blocks a 1.4 writer fills */
};

struct ncp_shm_block {
	uint64_t offset; /* bytes from the segment start, multiple of 64 */
	uint64_t size;   /* bytes */
};

/* The segment header at offset 0.  Written once at creation, except
 * `state` (atomic u32 store by the daemon) and nothing else. */
struct ncp_shm_header {
	/* -- fixed in every ABI version -- */
	char magic[8];          /*  0 "NCPDSHM\0" */
	uint16_t abi_major;     /*  8 */
	uint16_t abi_minor;     /* 10 */
	uint32_t header_size;   /* 12 bytes of this header */
	uint64_t segment_size;  /* 16 bytes of the whole segment */
	uint64_t generation;    /* 24 random, non-zero, new at each daemon start */
	int32_t pid;            /* 32 the daemon's pid */
	uint32_t state;         /* 36 enum ncp_shm_state_word */
	uint64_t created_ns;    /* 40 CLOCK_REALTIME at creation, ns */
	uint64_t reserved0[2];  /* 48 */
	/* -- ABI 1.x -- */
	double dt;              /* 64 simulation step, s */
	uint32_t m1_neurons;    /* 72 */
	uint32_t m1_words;      /* 76 bitset words per step: ceil(m1_neurons/64) */
	uint32_t window_len;    /* 80 steps the emulator's window spans (100) */
	uint32_t window_slots;  /* 84 window ring slots (power of two) */
	uint32_t window_slot_size; /* 88 bytes per window slot */
	uint32_t stim_channels; /* 92 NCP_SHM_STIM_CHANNELS */
	uint32_t arm_slots;     /* 96 */
	uint32_t train_slots;   /* 100 */
	uint32_t block_count;   /* 104 valid entries of blocks[] */
	uint32_t stim_electrodes; /* 108 electrodes E in the stim block (1.3;
				   *     zero from older writers) */
	double arm_links[2];    /* 112 the arm's link lengths, m (upper arm,
				 *     forearm; 1.2, zero from older writers) */
	struct ncp_shm_block blocks[NCP_SHM_MAX_BLOCKS]; /* 128 */
	uint32_t obs_offset;    /* 384 bytes into a window slot where the
				 *     step's observation starts (1.4; 0: none) */
	uint32_t rec_electrodes; /* 388 R: recording electrodes in it (1.4) */
	uint32_t arm_joints;    /* 392 the arm's joints J, 2 or 3 (1.5; 0 from
				 *     older writers: 2) */
	uint32_t reserved4;     /* 396 */
	double arm_link_hand;   /* 400 a 3-joint arm's third link (the hand),
				 *     m (1.5; 0 with 2 joints) */
	uint64_t reserved3[13]; /* 408 */
};                              /* 512 */

/* The 64-byte header of a ring block; slots follow at offset 64. */
struct ncp_shm_ring {
	uint64_t head;       /* 0 entries written, free-running */
	uint32_t slot_count; /* 8 power of two */
	uint32_t slot_size;  /* 12 bytes, multiple of 64 */
	uint64_t reserved[6];
};

/* Window slot: one simulation step of M1.  Entry k of the window ring is
 * step k (the loop pushes every step from step 0), so head is the number
 * of steps simulated.
 *
 * Spikes: bits[] holds m1_words 64-bit little-endian words; neuron i is
 * bit (i % 64) of bits[i / 64], so as bytes neuron i is bit (i % 8) of
 * byte i / 8, least significant bit first: in numpy,
 * np.unpackbits(slot[192:192 + 8 * m1_words], bitorder='little')[:m1_neurons].
 * Bits past m1_neurons are zero.  The slot is padded with zero words to
 * window_slot_size = 192 + 8 * m1_words rounded up to 64.
 *
 * Observation (ABI 1.4, when header.obs_offset is not 0): at byte
 * obs_offset = 192 + 8 * m1_words of the slot, float32 values after the
 * step (R = header.rec_electrodes, E = header.stim_electrodes, J the
 * arm's joints, ncp_shm_joints):
 *   rec[R]       the recording electrodes over the planning ensemble, Hz
 *   arm[2J+2]    the S1 arm state: q (J, rad), dq (J, rad/s), hand x, y
 *                (m); 6 values with 2 joints
 *   target[2]    the target of the step, m
 *   alpha[E]     every electrode's current alpha after the step
 * (rec and arm together are the co-processor's input, in its order), then
 * zero padding to window_slot_size = (obs_offset + 4 (R + 2J + 4 + E))
 * rounded up to 64. */
struct ncp_shm_win_slot {
	uint64_t seq;          /*   0 ring sequence word */
	uint64_t step;         /*   8 */
	uint32_t spike_count;  /*  16 spikes this step */
	uint32_t stim_count;   /*  20 channels of stim[] in use, rest zero */
	uint64_t t_ns;         /*  24 CLOCK_MONOTONIC when the loop published
				*     the step, ns (ABI 1.1; 0 from 1.0 writers) */
	uint64_t reserved[4];  /*  32 */
	float stim[NCP_SHM_STIM_CHANNELS]; /* 64 stimulation applied to M1 */
	uint64_t bits[];       /* 192 m1_words words */
};

/* Arm history entry: one per simulation step, float32 (for drawing). */
struct ncp_shm_arm_entry {
	uint64_t seq;          /*  0 ring sequence word */
	uint64_t step;         /*  8 */
	float q[2];            /* 16 joint angles, rad */
	float hand[2];         /* 24 hand x, y, m */
	float target[2];       /* 32 target x, y, m */
	float pred_hand[2];    /* 40 predicted hand x, y, m; NaN when none */
	float dq[2];           /* 48 joint velocities, rad/s (ABI 1.1; 0 from
				*    1.0 writers) */
	float q2, dq2;         /* 56 a 3-joint arm's third joint (the wrist):
				*    angle, rad, and velocity, rad/s (1.5; 0
				*    with 2 joints) */
};                             /* 64 */

/* Training history entry: one per training update. */
struct ncp_shm_train_entry {
	uint64_t seq;          /*  0 ring sequence word */
	uint64_t step;         /*  8 simulation step of the update */
	double t;              /* 16 simulation time, s */
	double loss;           /* 24 training loss */
	double val_loss;       /* 32 validation loss; NaN when none */
	uint64_t update;       /* 40 update number, from 1 */
	uint64_t reserved[2];  /* 48 */
};                             /* 64 */

/* state.task_kind */
enum ncp_shm_task_kind {
	NCP_SHM_TASK_CENTRE_OUT = 0,
	NCP_SHM_TASK_RANDOM = 1,
	NCP_SHM_TASK_MANUAL = 2,
	NCP_SHM_TASK_LINE = 3,		/* trajectories the PMC traces */
	NCP_SHM_TASK_CIRCLE = 4,
	NCP_SHM_TASK_PATH = 5,
	NCP_SHM_TASK_STEPS = 6,		/* target steps between two points */
};

/* State block (seqlock), written by the loop once per step. */
struct ncp_shm_state {
	uint64_t seq;          /*   0 seqlock word */
	uint64_t step;         /*   8 */
	double t;              /*  16 simulation time, s */
	double q[2];           /*  24 joint angles (shoulder, elbow), rad */
	double dq[2];          /*  40 joint velocities, rad/s */
	double hand[2];        /*  56 hand x, y, m */
	double target[2];      /*  72 target x, y, m */
	double u[2];           /*  88 joint torques, N m */
	double task_period;    /* 104 s per target */
	uint32_t task_kind;    /* 112 enum ncp_shm_task_kind */
	uint32_t paused;       /* 116 1 when the simulation is paused */
	uint32_t m1_spikes;    /* 120 M1 spikes this step */
	uint32_t reserved0;    /* 124 */
	double q2;             /* 128 a 3-joint arm's wrist angle, rad (1.5) */
	double dq2;            /* 136 its velocity, rad/s (1.5) */
	double u2;             /* 144 its torque, N m (1.5) */
	uint64_t reserved[5];  /* 152 */
};                             /* 192 */

/* Predicted block (seqlock), written by the emulator thread. */
struct ncp_shm_predicted {
	uint64_t seq;          /*   0 seqlock word */
	uint64_t step;         /*   8 step whose window produced it */
	double x[6];           /*  16 q0, q1 (rad), dq0, dq1 (rad/s), hand x, y (m) */
	double hand_fk[2];     /*  64 hand of the predicted q by kinematics, m */
	double latency_us;     /*  80 from the step's end to publication */
	double hand_rmse;      /*  88 hand RMSE over the last second, m */
	double q_rmse;         /*  96 q RMSE over the last second, rad */
	double dq_rmse;        /* 104 dq RMSE over the last second, rad/s */
	uint64_t skipped_steps; /* 112 steps the emulator did not predict */
	uint32_t model_loaded; /* 120 1 when a model is loaded */
	uint32_t reserved0;    /* 124 */
	char model[NCP_SHM_MODEL_NAME_LEN]; /* 128 NUL-terminated model name */
	double x_wrist[2];     /* 160 a 3-joint arm's predicted wrist angle q2
				*     (rad) and velocity dq2 (rad/s); x[] keeps
				*     the 2-joint order for the other six (1.5) */
	uint64_t reserved[10]; /* 176 */
};                             /* 256 */

/* stats.mode */
enum ncp_shm_loop_mode {
	NCP_SHM_MODE_REALTIME = 0,
	NCP_SHM_MODE_FREE_RUN = 1,
};

/* Loop statistics block (seqlock), written by the loop (a few times a
 * second or every step).  jitter_hist[b] counts wake-ups whose lateness j
 * (us) falls in bin b: b = 0 for j < 1 us, b = floor(log2(j)) + 1 for
 * 1 <= j < 2^30 us (bin b spans [2^(b-1), 2^b) us), b = 31 beyond
 * (see ncp_shm_jitter_bin). */
struct ncp_shm_stats {
	uint64_t seq;          /*   0 seqlock word */
	uint64_t steps;        /*   8 steps run */
	uint64_t overruns;     /*  16 deadlines missed */
	uint64_t slips;        /*  24 clock re-anchorings */
	double jitter_p50_us;  /*  32 wake-up lateness percentiles */
	double jitter_p99_us;  /*  40 */
	double jitter_p999_us; /*  48 */
	double jitter_max_us;  /*  56 */
	double cost_p50_us;    /*  64 step compute time percentiles */
	double cost_p99_us;    /*  72 */
	double cost_max_us;    /*  80 */
	double wall_s;         /*  88 wall time since the loop started, s */
	double rtf;            /*  96 real-time factor: sim time / wall time */
	uint32_t mode;         /* 104 enum ncp_shm_loop_mode */
	uint32_t jitter_bins;  /* 108 NCP_SHM_JITTER_BINS */
	uint64_t jitter_hist[NCP_SHM_JITTER_BINS]; /* 112 */
	uint64_t reserved[10]; /* 368 */
};                             /* 448 */

/* stim.source */
enum ncp_shm_stim_source {
	NCP_SHM_STIM_NONE = 0,   /* theta only from commands (ncpctl stim) */
	NCP_SHM_STIM_NOISE = 1,  /* exploration noise */
	NCP_SHM_STIM_ORACLE = 2, /* the oracle controller */
	NCP_SHM_STIM_FILE = 3,   /* a replayed stim file */
	NCP_SHM_STIM_CPN = 4,    /* the co-processor (1.4) */
};

/* lesion_kind */
enum ncp_shm_lesion_kind {
	NCP_SHM_LESION_NONE = 0,
	NCP_SHM_LESION_PMC_M1 = 1,
	NCP_SHM_LESION_M1_SILENCE = 2,
};

/* Stimulation block (seqlock, ABI 1.3), written by the loop every tick
 * (also while paused).  v[] holds theta (v[0 .. E-1]) then alpha
 * (v[E .. 2E-1]), E = electrodes = header.stim_electrodes; the block is
 * ncp_shm_stim_size(E) bytes, zero-padded. */
struct ncp_shm_stim {
	uint64_t seq;          /*   0 seqlock word */
	uint64_t step;         /*   8 the step this theta/alpha drove */
	uint32_t electrodes;   /*  16 E */
	uint32_t source;       /*  20 enum ncp_shm_stim_source */
	uint32_t lesion_kind;  /*  24 enum ncp_shm_lesion_kind */
	uint32_t lesion_neurons; /* 28 M1 neurons the lesion hits */
	double lesion_fraction; /* 32 0..1 */
	double max;            /*  40 stim.max: bound of |theta_e|, |alpha_e| */
	double theta_max_abs;  /*  48 max_e |theta_e| */
	double alpha_max_abs;  /*  56 max_e |alpha_e| */
	uint64_t reserved[8];  /*  64 */
	float v[];             /* 128 theta[E], then alpha[E] */
};

static inline size_t ncp_shm_stim_size(uint32_t electrodes)
{
	return (128 + 8 * (size_t)electrodes + NCP_SHM_ALIGN - 1) &
	       ~(size_t)(NCP_SHM_ALIGN - 1);
}
#define NCP_SHM_STIM_MAX_SIZE (128 + 8 * NCP_SHM_MAX_ELECTRODES)

/* ncp.phase: how the co-processor's theta was explored (docs/coprocessor.md) */
enum ncp_shm_ncp_phase {
	NCP_SHM_NCP_CLEAN = 0,     /* the CPN's theta as it is */
	NCP_SHM_NCP_PERTURBED = 1, /* plus exploration noise */
	NCP_SHM_NCP_NOISE = 2,     /* exploration noise alone */
};

/* Co-processor block (seqlock, ABI 1.4), written by the co-processor (its
 * thread in real time, the loop in free-run) after each theta it computes
 * and a few times a second otherwise.  Mean end errors are over the
 * reaches of each kind counted so far (healthy: no lesion; lesioned: a
 * lesion and the CPN off; restored: a lesion and the CPN on, over the last
 * 60 s of simulated time); NaN when there is none. */
struct ncp_shm_ncp {
	uint64_t seq;          /*   0 seqlock word */
	uint64_t step;         /*   8 the step whose observation gave the
				*     newest theta */
	uint32_t loaded;       /*  16 1 when a CPN is loaded */
	uint32_t on;           /*  20 1 when the CPN drives the electrodes */
	uint32_t train;        /*  24 1 when it is trained online */
	uint32_t phase;        /*  28 enum ncp_shm_ncp_phase */
	double latency_us;     /*  32 newest theta: from its step's publication
				*     to its post into the loop's mailbox */
	double latency_p99_us; /*  40 over the run */
	uint64_t thetas;       /*  48 thetas posted */
	uint64_t skipped;      /*  56 steps no theta was computed for */
	uint64_t updates;      /*  64 weights swapped in by online training */
	uint64_t rollbacks;    /*  72 training rounds rolled back */
	double l_healthy;      /*  80 mean end error, m */
	double l_lesioned;     /*  88 */
	double l_restored;     /*  96 */
	double recovery;       /* 104 percent: (1 - (L_r - L_h) / (L_l - L_h))
				*     x 100 */
	uint32_t reaches[3];   /* 112 healthy, lesioned, restored reaches */
	uint32_t reserved0;    /* 124 */
	char model[NCP_SHM_MODEL_NAME_LEN]; /* 128 NUL-terminated */
	double task_loss;      /* 160 newest CPN training loss, m^2 (NaN) */
	double en_loss;        /* 168 newest EN prediction loss (NaN) */
	uint64_t reserved[10]; /* 176 */
};                             /* 256 */

/* The histogram bin for a lateness of `us` microseconds. */
static inline unsigned ncp_shm_jitter_bin(double us)
{
	unsigned b = 0;
	double edge = 1.0;

	while (b < NCP_SHM_JITTER_BINS - 1 && us >= edge) {
		b++;
		edge *= 2.0;
	}
	return b;
}

/* Bytes of one window slot for n neurons, and of the part readers copy
 * (header, stimulation and the used bitset words). */
static inline uint32_t ncp_shm_win_words(uint32_t neurons)
{
	return (neurons + 63) / 64;
}
static inline size_t ncp_shm_win_copy_size(uint32_t neurons)
{
	return offsetof(struct ncp_shm_win_slot, bits) +
	       8 * (size_t)ncp_shm_win_words(neurons);
}
static inline uint32_t ncp_shm_win_slot_size(uint32_t neurons)
{
	return (uint32_t)((ncp_shm_win_copy_size(neurons) + NCP_SHM_ALIGN - 1) &
			  ~(size_t)(NCP_SHM_ALIGN - 1));
}

/* The arm's joints of a segment (header.arm_joints; 2 from writers
 * before 1.5). */
static inline uint32_t ncp_shm_joints(const struct ncp_shm_header *h)
{
	return h->arm_joints ? h->arm_joints : 2;
}
/* Observation floats in a window slot (1.4): rec[R], arm[2J+2],
 * target[2], alpha[E]. */
#define NCP_SHM_OBS_ARM(joints) (2 * (joints) + 2)
static inline uint32_t ncp_shm_obs_floats(uint32_t rec, uint32_t electrodes,
					  uint32_t joints)
{
	return rec + NCP_SHM_OBS_ARM(joints) + 2 + electrodes;
}
/* Bytes of a window slot copy with an observation of rec and electrodes
 * (rec 0: none, as before 1.4), and the slot size. */
static inline size_t ncp_shm_win_obs_copy_size(uint32_t neurons, uint32_t rec,
					       uint32_t electrodes,
					       uint32_t joints)
{
	size_t n = ncp_shm_win_copy_size(neurons);
	if (rec)
		n += (4 * (size_t)ncp_shm_obs_floats(rec, electrodes, joints) +
		      7) & ~(size_t)7;
	return n;
}
static inline uint32_t ncp_shm_win_obs_slot_size(uint32_t neurons, uint32_t rec,
						 uint32_t electrodes,
						 uint32_t joints)
{
	return (uint32_t)((ncp_shm_win_obs_copy_size(neurons, rec, electrodes,
						     joints) +
			   NCP_SHM_ALIGN - 1) & ~(size_t)(NCP_SHM_ALIGN - 1));
}
/* Bytes of a window slot copy for a segment with header h: the slot
 * header, stimulation, bitset and, from 1.4, the observation (readers
 * checked h->obs_offset at attach). */
static inline size_t ncp_shm_win_stride(const struct ncp_shm_header *h)
{
	return h->obs_offset ? ncp_shm_win_obs_copy_size(h->m1_neurons,
							 h->rec_electrodes,
							 h->stim_electrodes,
							 ncp_shm_joints(h))
			     : ncp_shm_win_copy_size(h->m1_neurons);
}
/* A window slot copy's observation (h: the segment's header), or NULL
 * when the writer publishes none. */
static inline const float *ncp_shm_win_obs(const struct ncp_shm_win_slot *s,
					   const struct ncp_shm_header *h)
{
	return h->obs_offset ? (const float *)((const char *)s + h->obs_offset)
			     : (const float *)0;
}

/* Slot i of a buffer of window copies `stride` bytes apart. */
static inline const struct ncp_shm_win_slot *
ncp_shm_win_at(const void *buf, size_t stride, size_t i)
{
	return (const struct ncp_shm_win_slot *)((const char *)buf + i * stride);
}

/* Whether neuron i spiked in a window slot copy. */
static inline int ncp_shm_win_spiked(const struct ncp_shm_win_slot *s,
				     uint32_t i)
{
	return (int)((s->bits[i / 64] >> (i % 64)) & 1);
}

/* Layout checks: readers in any language rely on these offsets. */
#define NCP_SHM_AT(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)
#define NCP_SHM_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), "sizeof " #type)

_Static_assert(sizeof(double) == 8 && sizeof(float) == 4, "IEEE sizes");
NCP_SHM_AT(ncp_shm_header, magic, 0);
NCP_SHM_AT(ncp_shm_header, abi_major, 8);
NCP_SHM_AT(ncp_shm_header, abi_minor, 10);
NCP_SHM_AT(ncp_shm_header, header_size, 12);
NCP_SHM_AT(ncp_shm_header, segment_size, 16);
NCP_SHM_AT(ncp_shm_header, generation, 24);
NCP_SHM_AT(ncp_shm_header, pid, 32);
NCP_SHM_AT(ncp_shm_header, state, 36);
NCP_SHM_AT(ncp_shm_header, created_ns, 40);
NCP_SHM_AT(ncp_shm_header, dt, 64);
NCP_SHM_AT(ncp_shm_header, m1_neurons, 72);
NCP_SHM_AT(ncp_shm_header, m1_words, 76);
NCP_SHM_AT(ncp_shm_header, window_len, 80);
NCP_SHM_AT(ncp_shm_header, window_slots, 84);
NCP_SHM_AT(ncp_shm_header, window_slot_size, 88);
NCP_SHM_AT(ncp_shm_header, stim_channels, 92);
NCP_SHM_AT(ncp_shm_header, arm_slots, 96);
NCP_SHM_AT(ncp_shm_header, train_slots, 100);
NCP_SHM_AT(ncp_shm_header, block_count, 104);
NCP_SHM_AT(ncp_shm_header, stim_electrodes, 108);
NCP_SHM_AT(ncp_shm_header, arm_links, 112);
NCP_SHM_AT(ncp_shm_header, blocks, 128);
NCP_SHM_AT(ncp_shm_header, obs_offset, 384);
NCP_SHM_AT(ncp_shm_header, rec_electrodes, 388);
NCP_SHM_AT(ncp_shm_header, arm_joints, 392);
NCP_SHM_AT(ncp_shm_header, arm_link_hand, 400);
NCP_SHM_SIZE(ncp_shm_header, 512);
NCP_SHM_SIZE(ncp_shm_block, 16);

NCP_SHM_AT(ncp_shm_ring, head, 0);
NCP_SHM_AT(ncp_shm_ring, slot_count, 8);
NCP_SHM_AT(ncp_shm_ring, slot_size, 12);
NCP_SHM_SIZE(ncp_shm_ring, 64);

NCP_SHM_AT(ncp_shm_win_slot, seq, 0);
NCP_SHM_AT(ncp_shm_win_slot, step, 8);
NCP_SHM_AT(ncp_shm_win_slot, spike_count, 16);
NCP_SHM_AT(ncp_shm_win_slot, stim_count, 20);
NCP_SHM_AT(ncp_shm_win_slot, t_ns, 24);
NCP_SHM_AT(ncp_shm_win_slot, stim, 64);
NCP_SHM_AT(ncp_shm_win_slot, bits, 192);
NCP_SHM_SIZE(ncp_shm_win_slot, 192);

NCP_SHM_AT(ncp_shm_arm_entry, step, 8);
NCP_SHM_AT(ncp_shm_arm_entry, q, 16);
NCP_SHM_AT(ncp_shm_arm_entry, hand, 24);
NCP_SHM_AT(ncp_shm_arm_entry, target, 32);
NCP_SHM_AT(ncp_shm_arm_entry, pred_hand, 40);
NCP_SHM_AT(ncp_shm_arm_entry, dq, 48);
NCP_SHM_AT(ncp_shm_arm_entry, q2, 56);
NCP_SHM_AT(ncp_shm_arm_entry, dq2, 60);
NCP_SHM_SIZE(ncp_shm_arm_entry, 64);

NCP_SHM_AT(ncp_shm_train_entry, step, 8);
NCP_SHM_AT(ncp_shm_train_entry, t, 16);
NCP_SHM_AT(ncp_shm_train_entry, loss, 24);
NCP_SHM_AT(ncp_shm_train_entry, val_loss, 32);
NCP_SHM_AT(ncp_shm_train_entry, update, 40);
NCP_SHM_SIZE(ncp_shm_train_entry, 64);

NCP_SHM_AT(ncp_shm_state, step, 8);
NCP_SHM_AT(ncp_shm_state, t, 16);
NCP_SHM_AT(ncp_shm_state, q, 24);
NCP_SHM_AT(ncp_shm_state, dq, 40);
NCP_SHM_AT(ncp_shm_state, hand, 56);
NCP_SHM_AT(ncp_shm_state, target, 72);
NCP_SHM_AT(ncp_shm_state, u, 88);
NCP_SHM_AT(ncp_shm_state, task_period, 104);
NCP_SHM_AT(ncp_shm_state, task_kind, 112);
NCP_SHM_AT(ncp_shm_state, paused, 116);
NCP_SHM_AT(ncp_shm_state, m1_spikes, 120);
NCP_SHM_AT(ncp_shm_state, q2, 128);
NCP_SHM_AT(ncp_shm_state, u2, 144);
NCP_SHM_SIZE(ncp_shm_state, 192);

NCP_SHM_AT(ncp_shm_predicted, step, 8);
NCP_SHM_AT(ncp_shm_predicted, x, 16);
NCP_SHM_AT(ncp_shm_predicted, hand_fk, 64);
NCP_SHM_AT(ncp_shm_predicted, latency_us, 80);
NCP_SHM_AT(ncp_shm_predicted, hand_rmse, 88);
NCP_SHM_AT(ncp_shm_predicted, q_rmse, 96);
NCP_SHM_AT(ncp_shm_predicted, dq_rmse, 104);
NCP_SHM_AT(ncp_shm_predicted, skipped_steps, 112);
NCP_SHM_AT(ncp_shm_predicted, model_loaded, 120);
NCP_SHM_AT(ncp_shm_predicted, model, 128);
NCP_SHM_AT(ncp_shm_predicted, x_wrist, 160);
NCP_SHM_SIZE(ncp_shm_predicted, 256);

NCP_SHM_AT(ncp_shm_stats, steps, 8);
NCP_SHM_AT(ncp_shm_stats, overruns, 16);
NCP_SHM_AT(ncp_shm_stats, slips, 24);
NCP_SHM_AT(ncp_shm_stats, jitter_p50_us, 32);
NCP_SHM_AT(ncp_shm_stats, jitter_p99_us, 40);
NCP_SHM_AT(ncp_shm_stats, jitter_p999_us, 48);
NCP_SHM_AT(ncp_shm_stats, jitter_max_us, 56);
NCP_SHM_AT(ncp_shm_stats, cost_p50_us, 64);
NCP_SHM_AT(ncp_shm_stats, cost_p99_us, 72);
NCP_SHM_AT(ncp_shm_stats, cost_max_us, 80);
NCP_SHM_AT(ncp_shm_stats, wall_s, 88);
NCP_SHM_AT(ncp_shm_stats, rtf, 96);
NCP_SHM_AT(ncp_shm_stats, mode, 104);
NCP_SHM_AT(ncp_shm_stats, jitter_bins, 108);
NCP_SHM_AT(ncp_shm_stats, jitter_hist, 112);
NCP_SHM_SIZE(ncp_shm_stats, 448);

NCP_SHM_AT(ncp_shm_stim, step, 8);
NCP_SHM_AT(ncp_shm_stim, electrodes, 16);
NCP_SHM_AT(ncp_shm_stim, source, 20);
NCP_SHM_AT(ncp_shm_stim, lesion_kind, 24);
NCP_SHM_AT(ncp_shm_stim, lesion_neurons, 28);
NCP_SHM_AT(ncp_shm_stim, lesion_fraction, 32);
NCP_SHM_AT(ncp_shm_stim, max, 40);
NCP_SHM_AT(ncp_shm_stim, theta_max_abs, 48);
NCP_SHM_AT(ncp_shm_stim, alpha_max_abs, 56);
NCP_SHM_AT(ncp_shm_stim, v, 128);
NCP_SHM_SIZE(ncp_shm_stim, 128);

NCP_SHM_AT(ncp_shm_ncp, step, 8);
NCP_SHM_AT(ncp_shm_ncp, loaded, 16);
NCP_SHM_AT(ncp_shm_ncp, on, 20);
NCP_SHM_AT(ncp_shm_ncp, train, 24);
NCP_SHM_AT(ncp_shm_ncp, phase, 28);
NCP_SHM_AT(ncp_shm_ncp, latency_us, 32);
NCP_SHM_AT(ncp_shm_ncp, latency_p99_us, 40);
NCP_SHM_AT(ncp_shm_ncp, thetas, 48);
NCP_SHM_AT(ncp_shm_ncp, skipped, 56);
NCP_SHM_AT(ncp_shm_ncp, updates, 64);
NCP_SHM_AT(ncp_shm_ncp, rollbacks, 72);
NCP_SHM_AT(ncp_shm_ncp, l_healthy, 80);
NCP_SHM_AT(ncp_shm_ncp, l_lesioned, 88);
NCP_SHM_AT(ncp_shm_ncp, l_restored, 96);
NCP_SHM_AT(ncp_shm_ncp, recovery, 104);
NCP_SHM_AT(ncp_shm_ncp, reaches, 112);
NCP_SHM_AT(ncp_shm_ncp, model, 128);
NCP_SHM_AT(ncp_shm_ncp, task_loss, 160);
NCP_SHM_AT(ncp_shm_ncp, en_loss, 168);
NCP_SHM_SIZE(ncp_shm_ncp, 256);
_Static_assert(NCP_SHM_STIM_MAX_SIZE % NCP_SHM_ALIGN == 0, "stim max size");

#undef NCP_SHM_AT
#undef NCP_SHM_SIZE

#endif
