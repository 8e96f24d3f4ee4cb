# ncpd: build, test, bench, run, install.
#
#   make            build everything into build/
#   make run        install missing packages (as root), build, run ncpd
#   make test       install missing packages (as root), build, run every test
#   make bench      benchmarks, one JSON object per line
#   make install    PREFIX=/usr/local DESTDIR= (PYTHONDIR: the ncpd package)
#   make SANITIZER=address|undefined|address,undefined|thread ...
#                   (build/<sanitizer>/, build/address+undefined/)
#   make WERROR=1   warnings are errors (CI and make test set it)
#   make fuzz       libFuzzer binaries into build/fuzz/ (clang; see below)

PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
DOCDIR    ?= $(PREFIX)/share/doc/ncpd
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= /lib/systemd/system
SANITIZER ?=
WERROR    ?=

# Measured here: the spike gather-add and the LIF update run 3x faster at
# -O3 with AVX2/FMA than at -O2 for baseline x86-64 (docs/tuning.md).  The
# ISA level is picked from the build machine's CPU unless ARCH_FLAGS is given.
CFLAGS    ?= -O3 -g
ARCH_FLAGS ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && \
		grep -qw fma /proc/cpuinfo 2>/dev/null && echo -march=x86-64-v3)

# SANITIZER takes one name or a comma-separated list (address,undefined);
# thread combines with no other.  Each value builds into its own folder.
comma := ,
SAN_LIST := $(subst $(comma), ,$(SANITIZER))
ifeq ($(SANITIZER),)
BUILD := build
else ifneq ($(words $(SANITIZER)),1)
$(error SANITIZER takes one value, names separated by commas (got '$(SANITIZER)'))
else ifneq ($(filter-out address undefined thread,$(SAN_LIST)),)
$(error SANITIZER names must be address, undefined or thread (got '$(SANITIZER)'))
else ifneq ($(and $(filter thread,$(SAN_LIST)),$(filter-out thread,$(SAN_LIST))),)
$(error SANITIZER=thread combines with no other sanitizer (got '$(SANITIZER)'))
else
BUILD := build/$(subst $(comma),+,$(SANITIZER))
# NCP_SANITIZED lets stress tests scale their work down (GCC defines no
# macro for -fsanitize=undefined).
SAN_FLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -DNCP_SANITIZED=1
ifneq ($(filter undefined,$(SAN_LIST)),)
SAN_FLAGS += -fno-sanitize-recover=all
endif
endif

PKGS := openblas liburing yaml-0.1 gsl jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# GSL's own CBLAS is left out: OpenBLAS provides those symbols.
PKG_LIBS   := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null)

# No floating-point traps are ever enabled here, so the compiler may turn
# selects between computed values into vector blends (the LIF update).
override CFLAGS += -std=c11 -D_GNU_SOURCE -pthread -I. \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-unused-parameter \
	-fno-math-errno -fno-trapping-math -ffp-contract=fast \
	$(ARCH_FLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -MMD -MP
ifneq ($(WERROR),)
override CFLAGS += -Werror
endif
# The build id keys the decoder cache (models/nef/ncp_dcache.h): a rebuilt
# program never uses decoders an older one solved.
override LDFLAGS += -pthread -Wl,--build-id $(SAN_FLAGS)
LDLIBS := $(PKG_LIBS) -lm

# Programs: one main file each; every other .c of its folder goes to a library.
NCPD_MAIN    := daemon/ncpd.c
NCPCTL_MAIN  := client/ncpctl.c
MONITOR_MAIN := client/ncp_monitor.c
TRAIN_MAIN   := models/ncp_train.c
MAINS := $(NCPD_MAIN) $(NCPCTL_MAIN) $(MONITOR_MAIN) $(TRAIN_MAIN)

# models/base is every program's base (errors, logging, the JSON writer,
# UTF-8 checks): its own library, so that the clients link it without the
# models.
BASE_SRC   := $(sort $(wildcard models/base/*.c))
MODEL_SRC  := $(filter-out $(MAINS) $(BASE_SRC),$(sort $(shell find models -name '*.c')))
SHM_SRC    := $(sort $(wildcard shm/*.c))
DAEMON_SRC := $(filter-out $(MAINS),$(sort $(wildcard daemon/*.c)))
CLIENT_SRC := $(filter-out $(MAINS),$(sort $(wildcard client/*.c)))
TEST_SRC   := $(sort $(wildcard tests/test_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench_*.c))
STRESS_SRC := $(sort $(wildcard tests/stress_*.c))
FUZZ_SRC   := $(filter-out tests/fuzz_replay.c,$(sort $(wildcard tests/fuzz_*.c)))
FIXTURE_SRC := $(sort $(wildcard tests/fixture_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_BASE   := $(BUILD)/libncpbase.a
LIB_MODELS := $(BUILD)/libncpmodels.a
LIB_SHM    := $(BUILD)/libncpshm.a
LIB_DAEMON := $(BUILD)/libncpdaemon.a
LIB_CLIENT := $(BUILD)/libncpclient.a
# Daemon-side programs link these, most dependent first.
LIBS_ALL := $(LIB_DAEMON) $(LIB_MODELS) $(LIB_SHM) $(LIB_BASE)

PROGS := $(if $(wildcard $(NCPD_MAIN)),$(BUILD)/ncpd) \
	$(if $(wildcard $(NCPCTL_MAIN)),$(BUILD)/ncpctl) \
	$(if $(wildcard $(MONITOR_MAIN)),$(BUILD)/ncp-monitor) \
	$(if $(wildcard $(TRAIN_MAIN)),$(BUILD)/ncp-train)
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRC))
STRESS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(STRESS_SRC))
FUZZ_REPLAY := $(patsubst tests/%.c,$(BUILD)/tests/%-replay,$(FUZZ_SRC))
# Helper programs the integration scripts drive (not tests themselves).
FIXTURES := $(patsubst tests/%.c,$(BUILD)/tests/%,$(FIXTURE_SRC))
# Manual pages (made below from each program's --help).
NCP_VERSION := $(shell sed -n 's/^\#define NCP_VERSION "\(.*\)"/\1/p' models/base/ncp_base.h)
MANPAGES := $(BUILD)/man/ncpd.8 $(BUILD)/man/ncpd.yaml.5 $(BUILD)/man/ncpctl.1 \
	$(BUILD)/man/ncp-monitor.1 $(BUILD)/man/ncp-train.1 $(BUILD)/man/ncp-plot.1 \
	$(BUILD)/man/ncp-web.1
# Programs in Python (Debian's python3), installed as they are; in the
# build folder a link to the tree's, which finds the tree's package.
PY_PROGS := client/ncp-plot
PY_LINKS := $(patsubst client/%,$(BUILD)/%,$(PY_PROGS))

.SECONDARY:
.PHONY: all deps test unit-tests bench run install clean check-tree fuzz fuzz-tools FORCE
.DEFAULT_GOAL := all

all: $(PROGS) $(PY_LINKS) $(TESTS) $(BENCHES) $(STRESS) $(FUZZ_REPLAY) $(FIXTURES) $(MANPAGES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The default configuration is compiled into ncpd (.incbin).
$(BUILD)/obj/daemon/ncp_config.o: config/ncpd.yaml

# An installed ncpd reads SYSCONFDIR/ncpd/ncpd.yaml: where it is installed
# is compiled into ncpd.o, which the stamp rebuilds when BINDIR or
# SYSCONFDIR change (make install PREFIX=/usr after make).
INSTALL_PATHS := -DNCP_BINDIR='"$(BINDIR)"' -DNCP_SYSCONFDIR='"$(SYSCONFDIR)"'
$(BUILD)/install-paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ 2>/dev/null || echo '$(INSTALL_PATHS)' >$@
$(call obj,$(NCPD_MAIN)): $(BUILD)/install-paths
$(call obj,$(NCPD_MAIN)): override CFLAGS += $(INSTALL_PATHS)
FORCE:

$(LIB_BASE): $(call obj,$(BASE_SRC))
$(LIB_MODELS): $(call obj,$(MODEL_SRC))
$(LIB_SHM): $(call obj,$(SHM_SRC))
$(LIB_DAEMON): $(call obj,$(DAEMON_SRC))
$(LIB_CLIENT): $(call obj,$(CLIENT_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(PY_LINKS): $(BUILD)/%: client/%
	@mkdir -p $(dir $@)
	ln -sf $(CURDIR)/$< $@
$(BUILD)/ncpd: $(call obj,$(NCPD_MAIN)) $(LIBS_ALL)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/ncp-train: $(call obj,$(TRAIN_MAIN)) $(LIBS_ALL)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/ncpctl: $(call obj,$(NCPCTL_MAIN)) $(LIB_CLIENT) $(LIB_SHM) $(LIB_BASE)
	$(CC) $(LDFLAGS) -o $@ $^ -lm
$(BUILD)/ncp-monitor: $(call obj,$(MONITOR_MAIN)) $(LIB_CLIENT) $(LIB_SHM) $(LIB_BASE)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS) -lm

# Tests and benchmarks link everything; tests also link Check.
$(BUILD)/tests/test_%: $(call obj,tests/test_%.c) $(LIB_CLIENT) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)
$(BUILD)/tests/bench_%: $(call obj,tests/bench_%.c) $(LIB_CLIENT) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/stress_%: $(call obj,tests/stress_%.c) $(LIB_CLIENT) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/fixture_%: $(call obj,tests/fixture_%.c) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# A fuzz target built with a plain main() that replays its corpus (make test).
$(BUILD)/tests/fuzz_%-replay: $(call obj,tests/fuzz_%.c) $(call obj,tests/fuzz_replay.c) $(LIB_CLIENT) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(call obj,tests/fuzz_replay.c): tests/fuzz_replay.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# --- manual pages ------------------------------------------------------------
# Each page is made from the program it documents, so it says what the
# program's --help says: help2man renders PROGRAM --help (plus the sections
# --help has no place for, from man/NAME.SECTION.h2m), and ncpd.yaml(5) is
# ncpd --help-config's table (man/mkman.sh).  A page is remade when its
# program, its extra sections or the paths it names change.
MAN_PATHS := SYSCONFDIR=$(SYSCONFDIR) DOCDIR=$(DOCDIR) VERSION=$(NCP_VERSION)
$(BUILD)/man-paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MAN_PATHS)' | cmp -s - $@ 2>/dev/null || echo '$(MAN_PATHS)' >$@
# The first prerequisite is the program.
MKMAN := $(MAN_PATHS) sh man/mkman.sh
MAN_DEPS := man/mkman.sh $(BUILD)/man-paths
$(BUILD)/man/ncpd.8: $(BUILD)/ncpd man/ncpd.8.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncpd.yaml.5: $(BUILD)/ncpd man/ncpd.yaml.5.in man/config_man.py $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncpctl.1: $(BUILD)/ncpctl man/ncpctl.1.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncp-monitor.1: $(BUILD)/ncp-monitor man/ncp-monitor.1.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncp-train.1: $(BUILD)/ncp-train man/ncp-train.1.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncp-plot.1: client/ncp-plot man/ncp-plot.1.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<
$(BUILD)/man/ncp-web.1: client/web/ncp-web man/ncp-web.1.h2m $(MAN_DEPS)
	$(MKMAN) $@ $<

# --- fuzzing -----------------------------------------------------------------
# make fuzz builds each tests/fuzz_*.c as a libFuzzer binary (clang, with
# AddressSanitizer and UBSan) into build/fuzz/.  It needs clang and
# libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev), which make
# test does not.  Run one for five minutes, keeping what it finds outside
# the tree, then copy any crashing input into tests/corpus/<name>/:
#   mkdir -p build/fuzz/new-json
#   build/fuzz/fuzz_json -max_total_time=300 build/fuzz/new-json tests/corpus/json
FUZZ_CC    ?= clang
FUZZ_DIR   := build/fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -pthread \
	-I. $(FUZZ_SAN) $(PKG_CFLAGS) -MMD -MP
FUZZ_LIB   := $(FUZZ_DIR)/libncpfuzz.a
FUZZ_BINS  := $(patsubst tests/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))

fuzz: $(FUZZ_BINS)

fuzz-tools:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
		echo "make fuzz needs clang: apt-get install -y clang libclang-rt-14-dev" >&2; \
		exit 1; }

$(FUZZ_DIR)/obj/%.o: %.c | fuzz-tools
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(BASE_SRC) $(MODEL_SRC) $(SHM_SRC) $(DAEMON_SRC) $(CLIENT_SRC))
	@rm -f $@
	$(AR) rcs $@ $^
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(LDLIBS)

# --- set-up: Debian packages -------------------------------------------------
# Build and test dependencies.  As root the missing ones are installed; as
# anyone else the exact apt-get line is printed and make stops.
DEB_PKGS := gcc make pkg-config libc6-dev liburing-dev libopenblas-dev \
	libyaml-dev libjansson-dev check libsubunit-dev libncurses-dev libgsl-dev \
	python3 python3-numpy python3-pytest python3-torch python3-matplotlib \
	rt-tests tmux strace help2man man-db groff-base python3-aiohttp chromium \
	python3-pil

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
		done | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing: $$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -q && apt-get install -y -q --no-install-recommends $$missing \
				|| { echo "apt-get failed: install $$missing by hand" >&2; exit 1; }; \
		else \
			echo "missing Debian packages; run as root:" >&2; \
			echo "  apt-get install -y $$missing" >&2; \
			exit 1; \
		fi; \
	fi

# --- test, bench, run --------------------------------------------------------
# make test: set-up, a warnings-as-errors build, then every test.
# Stress tests run twice: in this build and under ThreadSanitizer.
TSAN_STRESS := $(if $(SANITIZER),,$(patsubst tests/%.c,build/thread/tests/%,$(STRESS_SRC)))

test: deps
	$(MAKE) --no-print-directory WERROR=1 all
	$(if $(TSAN_STRESS),$(MAKE) --no-print-directory WERROR=1 SANITIZER=thread $(TSAN_STRESS))
	$(MAKE) --no-print-directory WERROR=1 unit-tests

unit-tests:
	@BUILD=$(BUILD) SANITIZER=$(SANITIZER) TSAN_STRESS="$(TSAN_STRESS)" sh tests/run_tests.sh

bench: deps
	@$(MAKE) --no-print-directory all >&2
	@BUILD=$(BUILD) sh tests/run_bench.sh

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) FROM_SCRATCH=$(FROM_SCRATCH) sh tests/run_main.sh

# ncp-web's page.
WEBDIR ?= $(PREFIX)/share/ncpd/web
# The Python package goes where Debian's python3 finds it: its own
# dist-packages for PREFIX=/usr, the versioned local one otherwise.
PY_VERSION := $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY_VERSION)/dist-packages)
PY_SRC := $(sort $(wildcard client/python/ncpd/*.py))

install: $(PROGS) $(MANPAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/ncpd \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROGS) $(PY_PROGS) $(DESTDIR)$(BINDIR)/
	for p in $(MANPAGES); do \
		install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.}/; \
	done
	# ncp-web (Python) and its page; it finds the page where WEBDIR says.
	install -d $(DESTDIR)$(WEBDIR)
	sed -e 's|@WEBDIR@|$(WEBDIR)|g' client/web/ncp-web >$(DESTDIR)$(BINDIR)/ncp-web
	chmod 0755 $(DESTDIR)$(BINDIR)/ncp-web
	install -m 0644 client/web/index.html $(DESTDIR)$(WEBDIR)/
	# An edited configuration is kept; the default goes next to it.
	if [ -e $(DESTDIR)$(SYSCONFDIR)/ncpd/ncpd.yaml ]; then \
		install -m 0644 config/ncpd.yaml $(DESTDIR)$(SYSCONFDIR)/ncpd/ncpd.yaml.default; \
	else \
		install -m 0644 config/ncpd.yaml $(DESTDIR)$(SYSCONFDIR)/ncpd/ncpd.yaml; \
	fi
	for u in ncpd.service ncpd@.service; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		    -e 's|@DOCDIR@|$(DOCDIR)|g' config/$$u >$(DESTDIR)$(UNITDIR)/$$u; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(PYTHONDIR)/ncpd
	install -m 0644 $(PY_SRC) $(DESTDIR)$(PYTHONDIR)/ncpd/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
