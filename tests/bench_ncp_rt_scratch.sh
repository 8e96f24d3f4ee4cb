#!/bin/sh
# make bench: bench_ncp_rt.sh's real-time protocol with online training of
# a CPN from scratch (`ncp train on` without a CPN) in place of one from
# ncp-train --cpn (docs/coprocessor.md, "Real time, with online training").
NCP_BENCH_NCP_MODEL=scratch exec sh tests/bench_ncp_rt.sh
