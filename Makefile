# libaccel - build, test, demo. See README.md.
#
#   make            build/libaccel.so and build/accel
#   make deps       install what building and testing need (Debian packages)
#   make check      unit tests (cmocka), once more under ASan+UBSan, and
#                   integration tests
#   make unit-san   the unit tests under ASan+UBSan only (build/san)
#   make check SANITIZE=address,undefined
#                   everything built with those sanitizers in build/san, the
#                   unit tests and the integration tests that run under them
#   make check-nvme the guest tests alone (tests/guest/: QEMU's NVMe model
#                   under TCG); QEMU's trace is left in build/guest-nvme.trace
#   make demo       the main job: memcached under the shim on a DPDK port
#   make bench      benchmarks/ (not tests)
#   make bench-cluster  Redis Cluster and a memcached pool, kernel vs shim
#   make fuzz SECONDS=N   every libFuzzer target of tests/fuzz/ for N s
#   make fuzz-cov   what the fuzz corpus reaches (llvm-cov over build/fuzz)
#   make install PREFIX=/usr/local    (and make uninstall; DESTDIR=, LIBDIR=)
#   make man        the man pages in build/man (part of make)

VERSION := 0.1.0
SOVERSION := 0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# ld.so's cache is refreshed after (un)installing into a system prefix.
LDCONFIG ?= ldconfig
BUILD := build
CC ?= cc

# A sanitized build lives in a directory of its own, so its objects never
# mix with plain ones. Any report fails the run: UBSan does not recover.
SANITIZE ?=
COMMA := ,
SAN_UNIT := address,undefined
ifneq ($(SANITIZE),)
BUILD := build/san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
BASE_CFLAGS := $(CFLAGS) $(SAN_FLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC \
	-U_FORTIFY_SOURCE -fno-strict-aliasing
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_LIBS := $(shell pkg-config --libs libdpdk 2>/dev/null)

# The shim exports only the calls it interposes.
SHIM_CFLAGS := $(BASE_CFLAGS) -fvisibility=hidden

COMMON_SRC := common/real.c common/log.c common/guard.c
STACK_SRC := stack/stack.c stack/wire.c stack/arp.c stack/ipv4.c stack/icmp.c \
	stack/tcp_wire.c stack/ipv4_frag.c stack/timer.c stack/tcp_isn.c \
	stack/tcp_subr.c stack/tcp_input.c stack/tcp_output.c stack/tcp_timer.c \
	stack/tcp_usrreq.c stack/tcp_cc.c stack/tcp_loss.c stack/tcp_move.c
DEV_SRC := dev/dev.c dev/netif.c dev/net_dpdk.c dev/net_share.c dev/capture.c dev/impair.c dev/nvme.c dev/nvme_uring.c dev/nvme_passthru.c \
	dev/nvme_queue.c dev/nvme_vfio.c
STORAGE_SRC := storage/policy.c storage/extmap.c storage/ctx.c storage/io.c
SOCKETS_SRC := sockets/netif.c sockets/wait.c sockets/sock.c sockets/epoll.c sockets/proc.c \
	sockets/stats.c sockets/flows.c sockets/progress.c sockets/spin.c
PRELOAD_SRC := preload/config.c preload/fdtable.c preload/fdreserve.c preload/runtime.c \
	preload/interpose.c preload/sigguard.c preload/usermem.c preload/signals.c \
	preload/files.c
SHIM_SRC := $(COMMON_SRC) $(STACK_SRC) $(DEV_SRC) $(STORAGE_SRC) $(SOCKETS_SRC) $(PRELOAD_SRC)
SHIM_OBJ := $(SHIM_SRC:%.c=$(BUILD)/obj/%.o)
STACK_OBJ := $(STACK_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_TESTS := $(BUILD)/tests/test_stack_wire $(BUILD)/tests/test_stack_input \
	$(BUILD)/tests/test_preload_config $(BUILD)/tests/test_preload_fdtable \
	$(BUILD)/tests/test_stack_tcp_wire \
	$(BUILD)/tests/test_stack_ipv4_frag $(BUILD)/tests/test_stack_timer \
	$(BUILD)/tests/test_stack_tcp_isn $(BUILD)/tests/test_stack_tcp \
	$(BUILD)/tests/test_stack_tcp_timer \
	$(BUILD)/tests/test_sockets_flows $(BUILD)/tests/test_sockets_progress \
	$(BUILD)/tests/test_sockets_spin $(BUILD)/tests/test_sockets_waits \
	$(BUILD)/tests/test_common_guard \
	$(BUILD)/tests/test_preload_usermem $(BUILD)/tests/test_preload_files \
	$(BUILD)/tests/test_storage_extmap $(BUILD)/tests/test_storage_policy \
	$(BUILD)/tests/test_storage_io $(BUILD)/tests/test_dev_nvme_passthru \
	$(BUILD)/tests/test_dev_nvme_queue $(BUILD)/tests/test_dev_net_share
TEST_PROGS := $(BUILD)/tests/forkexec $(BUILD)/tests/waitmix \
	$(BUILD)/tests/callmix $(BUILD)/tests/sockdiff $(BUILD)/tests/sockthreads \
	$(BUILD)/tests/stackmix $(BUILD)/tests/selfconn \
	$(BUILD)/tests/fdlimit $(BUILD)/tests/libearlyhook.so $(BUILD)/tests/fileio \
	$(BUILD)/tests/nvmeq
BENCH_PROGS := $(BUILD)/bench/callcost $(BUILD)/bench/kecho $(BUILD)/bench/stacklink \
	$(BUILD)/bench/jitter $(BUILD)/bench/c2c $(BUILD)/bench/guardcost

.PHONY: all deps check layers unit unit-san integration integration-san demo bench bench-nginx bench-cluster \
	install uninstall man clean fuzz fuzz-build fuzz-check fuzz-cov check-nvme
all: $(BUILD)/libaccel.so $(BUILD)/accel $(BUILD)/stack-echo $(BUILD)/accel-stat \
	$(BUILD)/accel-load man

$(BUILD)/obj/dev/%.o: dev/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) $(DPDK_CFLAGS) -MMD -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -MMD -c $< -o $@

# libaccel.so.$(SOVERSION) is the library (its SONAME); libaccel.so, the
# name the tests and LD_PRELOAD=libaccel.so use, links to it.
$(BUILD)/libaccel.so.$(SOVERSION): $(SHIM_OBJ)
	$(CC) $(SAN_FLAGS) -shared -o $@ $^ -Wl,-soname,libaccel.so.$(SOVERSION) \
		-Wl,-z,defs -Wl,--as-needed $(DPDK_LIBS) -luring -lnuma -ldl -lpthread

$(BUILD)/libaccel.so: $(BUILD)/libaccel.so.$(SOVERSION)
	ln -sf libaccel.so.$(SOVERSION) $@

# (and LIBDIR as seen from BINDIR/.., so a tree unpacked elsewhere works)
LAUNCHER_DEFS := -DACCEL_VERSION='"$(VERSION)"' -DACCEL_LIBDIR='"$(LIBDIR)"' \
	-DACCEL_LIBDIR_REL='"$(patsubst $(PREFIX)/%,%,$(LIBDIR))"'

ifeq ($(filter address,$(subst $(COMMA), ,$(SANITIZE))),)
$(BUILD)/accel: preload/launcher.c preload/config.c common/log.c common/real.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LAUNCHER_DEFS) -o $@ $^ -ldl
else
# Under ASan the shim needs the sanitizer's runtime loaded before it (and
# before libc), so this accel is a script that preloads both in that order.
ASAN_LIB := $(shell $(CC) -print-file-name=libasan.so)
$(BUILD)/accel: $(BUILD)/libaccel.so
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\n# accel for the ASan build: libasan first, then the shim\n[ "$$1" = -- ] && shift\nexport LD_PRELOAD="%s:%s$${LD_PRELOAD:+:$$LD_PRELOAD}"\nexec "$$@"\n' \
		"$(ASAN_LIB)" "$(abspath $(BUILD))/libaccel.so" > $@
	chmod +x $@
endif

# The man pages: templates in docs/man/, their tables of variables and of
# profiles printed from preload/config.c's by build/mkman (as accel --help).
MAN_PAGES := $(BUILD)/man/accel.1 $(BUILD)/man/accel-stat.1 $(BUILD)/man/libaccel.7
man: $(MAN_PAGES)

$(BUILD)/mkman: tools/mkman.c preload/config.c preload/config.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -DACCEL_VERSION='"$(VERSION)"' -o $@ tools/mkman.c preload/config.c

$(BUILD)/man/%: docs/man/%.in $(BUILD)/mkman
	@mkdir -p $(dir $@)
	$(BUILD)/mkman < $< > $@.tmp && mv $@.tmp $@

# Tools built on stack/ and dev/ directly, without the preload and socket
# layers.
TOOL_OBJ := $(filter-out $(BUILD)/obj/preload/% $(BUILD)/obj/storage/% \
	$(BUILD)/obj/sockets/% $(BUILD)/obj/dev/nvme%,$(SHIM_OBJ))

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -MMD -c $< -o $@

$(BUILD)/accel-stat: tools/accel_stat.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $<

$(BUILD)/accel-load: tools/accel_load.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $< -lm

$(BUILD)/stack-echo: $(BUILD)/obj/tools/stack_echo.o $(BUILD)/obj/tools/sha256.o $(TOOL_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -Wl,--as-needed $(DPDK_LIBS) -lnuma -ldl -lpthread

# ---- tests ----------------------------------------------------------------
TEST_CFLAGS := $(BASE_CFLAGS) -Wno-unused-parameter

# The stack's objects are the shim's, built once for every suite.
$(BUILD)/tests/test_stack_%: tests/stack/test_%.c $(STACK_OBJ) tests/stack/link.h \
		tests/stack/tcplink.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STACK_OBJ) -lcmocka

$(BUILD)/tests/test_preload_%: tests/preload/test_%.c $(PRELOAD_SRC) $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< preload/$*.c $(COMMON_SRC) -lcmocka -ldl

$(BUILD)/tests/test_sockets_%: tests/sockets/test_%.c sockets/%.c sockets/sock_impl.h sockets/spin.h \
		sockets/sockets_impl.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< sockets/$*.c -lcmocka -lpthread

$(BUILD)/tests/test_sockets_progress: sockets/progress.h sockets/solo.h

# The socket layer whole, on the in-memory device (dev/net_mem.c), no DPDK.
MEMNET_SRC := $(SOCKETS_SRC) $(STACK_SRC) $(COMMON_SRC) dev/dev.c dev/netif.c dev/net_mem.c
$(BUILD)/tests/test_sockets_waits: tests/sockets/test_waits.c $(MEMNET_SRC) sockets/sockets.h \
		sockets/sock_impl.h sockets/sockets_impl.h dev/dev.h dev/dev_impl.h dev/netif.h \
		dev/net_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(MEMNET_SRC) -lcmocka -ldl -lpthread

$(BUILD)/tests/test_common_%: tests/common/test_%.c common/%.c common/%.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< common/$*.c -lcmocka -lpthread

$(BUILD)/tests/test_storage_%: tests/storage/test_%.c storage/%.c storage/storage.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< storage/$*.c $(COMMON_SRC) -lcmocka -ldl

# The contract on a mock transport (in place of dev/nvme.c).
$(BUILD)/tests/test_storage_io: tests/storage/test_io.c $(STORAGE_SRC) storage/storage.h \
		storage/st_impl.h dev/nvme.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STORAGE_SRC) $(COMMON_SRC) -lcmocka -ldl -lpthread

# The NVMe queue pair against an in-memory controller (no vfio, no device).
$(BUILD)/tests/test_dev_nvme_queue: tests/dev/test_nvme_queue.c dev/nvme_queue.c \
		dev/nvme_queue.h $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< dev/nvme_queue.c $(COMMON_SRC) -lcmocka -ldl -lpthread

# The frames handed between the processes of a shared port (a temporary file).
$(BUILD)/tests/test_dev_net_share: tests/dev/test_net_share.c dev/net_share.c dev/net_share.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< dev/net_share.c -lcmocka -lpthread

# The passthru transport's command building (no device).
$(BUILD)/tests/test_dev_nvme_passthru: tests/dev/test_nvme_passthru.c dev/nvme_passthru.c \
		dev/nvme_passthru.h dev/nvme.c dev/nvme.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< dev/nvme_passthru.c dev/nvme.c dev/nvme_uring.c \
		dev/nvme_vfio.c dev/nvme_queue.c \
		$(COMMON_SRC) -lcmocka -luring -ldl -lpthread

$(BUILD)/tests/lib%.so: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

# The queue-pair API on a real device, without the shim: every transport.
NVME_SRC := $(filter dev/nvme%,$(DEV_SRC))
$(BUILD)/tests/nvmeq: tests/progs/nvmeq.c $(NVME_SRC) dev/nvme.h $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(NVME_SRC) $(COMMON_SRC) -luring -ldl -lpthread

$(BUILD)/tests/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/sockdiff: tests/progs/sockdiff.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lcmocka

$(BUILD)/bench/%: benchmarks/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

$(BUILD)/bench/guardcost: benchmarks/guardcost.c common/guard.c common/guard.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< common/guard.c -lpthread

# The stack alone: its sources, no DPDK.
$(BUILD)/bench/stacklink: benchmarks/stacklink.c $(STACK_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STACK_SRC)

# ---- fuzzing (tests/fuzz/, docs/tests.md "Fuzzing") ----------------------
# libFuzzer targets under ASan and UBSan, built with Debian's clang; a
# second build with clang's source-based coverage for fuzz-cov.
FUZZ_CC := clang
FUZZ_TARGETS := tcp_conn stack_frames ipv4_reasm config
# (in build/ whatever SANITIZE says: these have their own sanitizers)
FUZZ_BIN := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_COV_BIN := $(FUZZ_TARGETS:%=build/fuzz-cov/fuzz_%)
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer $(WARN) -Wno-unused-parameter \
	-std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_COV := -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
FUZZ_HDRS := tests/fuzz/fuzz.h tests/stack/link.h $(wildcard stack/*.h)
fuzz_src = tests/fuzz/fuzz_$(1).c $(if $(filter config,$(1)),preload/config.c,$(STACK_SRC))
SECONDS ?= 600

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(STACK_SRC) preload/config.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $(call fuzz_src,$*)

build/fuzz-cov/fuzz_%: tests/fuzz/fuzz_%.c $(STACK_SRC) preload/config.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COV) -o $@ $(call fuzz_src,$*)

fuzz-build: $(FUZZ_BIN)

# Each target for SECONDS seconds, all at once, corpus grown in build/fuzz/.
fuzz: deps $(FUZZ_BIN)
	@scripts/fuzz.sh run $(SECONDS) $(FUZZ_TARGETS)

# What make check runs: about 60 s in all over the seed corpus.
fuzz-check: $(FUZZ_BIN)
	@scripts/fuzz.sh check 60 $(FUZZ_TARGETS)

fuzz-cov: $(FUZZ_COV_BIN)
	@scripts/fuzz-cov.sh $(FUZZ_TARGETS)

deps:
	@scripts/deps.sh

unit: $(UNIT_TESTS)
	@scripts/run-unit.sh $(UNIT_TESTS)

# The call directions between files (sockets/ in one direction, dev/ and
# stack/ never calling up), read from the objects.
layers: all
	@scripts/check-layers.py $(BUILD)

# What CI runs on every submission besides the plain suites.
unit-san:
	@$(MAKE) --no-print-directory SANITIZE=$(SAN_UNIT) unit

# The integration tests that pass with the sanitized shim and tools
# (docs/tests.md says why waitmix, preload_early and threads do not).
SAN_INTEGRATION := callmix config fdlimit forkexec handoff memcached_tap \
	memif_apps preload_early redis selfconn stackmix tcp_conns tcp_interop waitmix
ifeq ($(SANITIZE),)
integration-san:
	@$(MAKE) --no-print-directory SANITIZE=$(SAN_UNIT) integration-san
else
integration-san: all $(TEST_PROGS)
	@st=0; for t in $(SAN_INTEGRATION); do \
		TESTS_BUILD=$(CURDIR)/$(BUILD) TESTS_SANITIZE=$(SANITIZE) \
		TESTS_ASAN_LIB=$(ASAN_LIB) ONLY=$$t \
			tests/integration/run.sh || st=1; \
	done; exit $$st
endif

integration: all $(TEST_PROGS)
	@tests/integration/run.sh

# The guest tests alone (make check runs them as integration test
# nvme_guest).
check-nvme: deps all $(TEST_PROGS)
	@tests/guest/run.sh

ifeq ($(SANITIZE),)
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_PROGS) $(BENCH_PROGS)
	@scripts/check-layers.py $(BUILD)
	@scripts/run-unit.sh $(UNIT_TESTS)
	@$(MAKE) --no-print-directory unit-san
	@$(MAKE) --no-print-directory fuzz-check
	@tests/integration/run.sh
	@QUICK=1 scripts/demo.sh
else
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_PROGS)
	@scripts/run-unit.sh $(UNIT_TESTS)
	@$(MAKE) --no-print-directory integration-san
endif

demo: deps
	@$(MAKE) --no-print-directory all $(BENCH_PROGS)
	@QUICK=$(QUICK) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_PROGS)
	@benchmarks/run.sh

# nginx master + 2 workers with wrk, kernel against the shim on the shared tap
bench-nginx: deps
	@$(MAKE) --no-print-directory all
	@benchmarks/nginx.sh

# Redis Cluster and a memcached pool, kernel nodes against shimmed ones
bench-cluster: deps
	@$(MAKE) --no-print-directory all
	@benchmarks/cluster.sh

# ldconfig for a system prefix (one ld.so searches), not into DESTDIR.
define ldconfig_system
	@if [ -z "$(DESTDIR)" ] && { [ "$(PREFIX)" = /usr ] || [ "$(PREFIX)" = /usr/local ]; }; \
	then echo $(LDCONFIG); $(LDCONFIG); fi
endef

INSTALLED := $(LIBDIR)/libaccel.so.$(SOVERSION) $(LIBDIR)/libaccel.so \
	$(BINDIR)/accel $(BINDIR)/accel-stat $(BINDIR)/accel-load \
	$(PKGCONFIGDIR)/accel.pc $(MANDIR)/man1/accel.1 $(MANDIR)/man1/accel-stat.1 \
	$(MANDIR)/man7/libaccel.7

install: $(BUILD)/libaccel.so $(BUILD)/accel $(BUILD)/accel-stat $(BUILD)/accel-load man
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(BUILD)/libaccel.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libaccel.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libaccel.so
	install -m 0755 $(BUILD)/accel $(BUILD)/accel-stat $(BUILD)/accel-load \
		$(DESTDIR)$(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@BINDIR@|$(BINDIR)|' \
		-e 's|@VERSION@|$(VERSION)|; s|@SOVERSION@|$(SOVERSION)|' accel.pc.in \
		> $(DESTDIR)$(PKGCONFIGDIR)/accel.pc
	install -m 0644 $(BUILD)/man/accel.1 $(BUILD)/man/accel-stat.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/libaccel.7 $(DESTDIR)$(MANDIR)/man7/
	$(ldconfig_system)

uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	$(ldconfig_system)

clean:
	rm -rf $(BUILD)

-include $(SHIM_OBJ:.o=.d) $(BUILD)/obj/tools/stack_echo.d $(BUILD)/obj/tools/sha256.d
