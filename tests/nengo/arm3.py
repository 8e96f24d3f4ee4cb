"""ncpd's three-link arm (arm.links: 3) in numpy, for running REACH's
circuits on it in Nengo (tests/nengo/reach_nengo.py, models arm3 and
arm3line).

The equations and parameters are docs/model.md's ("The three-link arm"):
Winter's segments for a 1.75 m, 70 kg adult, Lagrange's equations of the
open chain in the absolute angles, semi-implicit Euler steps with the joint
limits clamping a joint at zero velocity, the hand Jacobian, the joint-space
inertia M = T^T A T, the task-space inertia Mx = (J M^-1 J^T)^-1 with
eigenvalues below 0.00025 taken as zero, and the inverse kinematics that
take the wrist angle nearest 0 (steps of 0.01 rad), elbow up first.

The object has what REACH's M1, CB and S1 generators ask of an arm (DOF,
J(q=), M(q=), Mx(q=)) and a Nengo node in REACH's form: input [u (3),
target x, y], output [q (3), dq (3), hand x, hand y].  numpy only.
"""

import numpy as np

H, BM = 1.75, 70.0
# Winter (2009) table 4.1: length (of H), mass (of BM), centre of mass from
# the proximal joint and radius of gyration about it (of the length).
SEGMENTS = [(0.186, 0.028, 0.436, 0.322),     # upper arm
            (0.146, 0.016, 0.430, 0.303),     # forearm
            (0.108, 0.006, 0.506, 0.297)]     # hand
L = np.array([f * H for f, _, _, _ in SEGMENTS])
MASS = np.array([m * BM for _, m, _, _ in SEGMENTS])
COM = np.array([c * f * H for f, _, c, _ in SEGMENTS])
IZZ = np.array([m * BM * (rg * f * H) ** 2 for f, m, _, rg in SEGMENTS])
Q_MIN = np.array([-0.785, 0.0, -1.22])
Q_MAX = np.array([2.356, 2.53, 1.40])
MX_CUTOFF = 0.00025
N = 3
T = np.tril(np.ones((N, N)))          # phi = T q

# C_ab = sum_{i >= max(a, b)} m_i r_ai r_bi, r_ai = l_a (a < i), com_i (a = i)
C = np.zeros((N, N))
for _a in range(N):
    for _b in range(N):
        for _i in range(max(_a, _b), N):
            ra = L[_a] if _a < _i else COM[_i]
            rb = L[_b] if _b < _i else COM[_i]
            C[_a, _b] += MASS[_i] * ra * rb


def _a_matrix(phi):
    d = phi[:, None] - phi[None, :]
    return C * np.cos(d) + np.diag(IZZ), d


def accel(q, dq, u):
    """Joint accelerations under joint torques u."""
    phi, w = T @ q, T @ dq
    A, d = _a_matrix(phi)
    s = (C * np.sin(d)) @ (w * w)
    Q = np.asarray(u, float) - np.append(np.asarray(u, float)[1:], 0.0) - s
    dw = np.linalg.solve(A, Q)
    return dw - np.append(0.0, dw[:-1])


def hand(q):
    phi = T @ q
    return np.array([L @ np.cos(phi), L @ np.sin(phi)])


def jacobian(q):
    """The hand Jacobian, 2 x 3: column j sums the links from j outwards."""
    phi = T @ q
    dx = -L * np.sin(phi)
    dy = L * np.cos(phi)
    return np.vstack([np.cumsum(dx[::-1])[::-1], np.cumsum(dy[::-1])[::-1]])


def inertia(q):
    A, _ = _a_matrix(T @ q)
    return T.T @ A @ T


def task_inertia(q):
    J = jacobian(q)
    Mi = np.linalg.inv(inertia(q))
    A = J @ Mi @ J.T
    A = 0.5 * (A + A.T)
    ev, V = np.linalg.eigh(A)
    inv = np.where(ev < MX_CUTOFF, 0.0, 1.0 / np.where(ev == 0, 1.0, ev))
    return (V * inv) @ V.T


def _ik2(l0, l1, off, xy, k):
    r2 = xy[0] ** 2 + xy[1] ** 2
    c = (r2 - l0 * l0 - l1 * l1) / (2.0 * l0 * l1)
    if not np.isfinite(c) or c < -1.0 or c > 1.0:
        return None
    q1 = np.arccos(c) if k == 0 else -np.arccos(c)
    q0 = np.arctan2(xy[1], xy[0]) - np.arctan2(l1 * np.sin(q1),
                                               l0 + l1 * np.cos(q1))
    while q0 < Q_MIN[0] - 1e-12:
        q0 += 2.0 * np.pi
    while q0 > Q_MAX[0] + 1e-12 and q0 - 2.0 * np.pi >= Q_MIN[0] - 1e-12:
        q0 -= 2.0 * np.pi
    q1 -= off
    if not (Q_MIN[0] <= q0 <= Q_MAX[0] and Q_MIN[1] <= q1 <= Q_MAX[1]):
        return None
    return q0, q1


def inv_kinematics(xy):
    """Joint angles putting the hand at xy: the wrist angle nearest 0 in
    steps of 0.01 rad (positive first), elbow up first.  ValueError if no
    posture within the limits reaches xy."""
    step = 0.01
    reach = max(abs(Q_MIN[2]), abs(Q_MAX[2]))
    s = 0
    while step * ((s + 1) // 2) <= reach + step:
        q2 = (-1 if s % 2 else 1) * step * ((s + 1) // 2)
        s += 1
        if not Q_MIN[2] <= q2 <= Q_MAX[2]:
            continue
        le = np.sqrt(L[1] ** 2 + L[2] ** 2 + 2.0 * L[1] * L[2] * np.cos(q2))
        off = np.arctan2(L[2] * np.sin(q2), L[1] + L[2] * np.cos(q2))
        for k in (0, 1):
            r = _ik2(L[0], le, off, xy, k)
            if r is not None:
                return np.array([r[0], r[1], q2])
    raise ValueError("(%g, %g) is out of the three-link arm's reach within "
                     "its joint limits" % (xy[0], xy[1]))


class Arm3:
    """The arm as REACH's circuit generators and framework use one."""

    DOF = N

    def __init__(self, start_xy, dt=0.001):
        self.dt = dt
        self.q0 = inv_kinematics(np.asarray(start_xy, float))
        self.q = self.q0.copy()
        self.dq = np.zeros(N)

    def J(self, q=None):
        return jacobian(self.q if q is None else np.asarray(q, float))

    def M(self, q=None):
        return inertia(self.q if q is None else np.asarray(q, float))

    def Mx(self, q=None):
        return task_inertia(self.q if q is None else np.asarray(q, float))

    def step(self, u):
        self.dq = self.dq + accel(self.q, self.dq, u) * self.dt
        self.q = self.q + self.dq * self.dt
        lo, hi = self.q < Q_MIN, self.q > Q_MAX
        self.q = np.clip(self.q, Q_MIN, Q_MAX)
        self.dq[lo | hi] = 0.0

    def create_nengo_node(self):
        import nengo

        def arm_func(t, x):
            self.step(x[:N])
            return np.hstack([self.q, self.dq, hand(self.q)])
        return nengo.Node(output=arm_func, size_in=N + 2, label="arm")
