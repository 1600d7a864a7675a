# libaccel - build, test, demo. See README.md.
#
#   make            build/libaccel.so and build/accel
#   make deps       install what building and testing need (Debian packages)
#   make check      unit tests (cmocka) and integration tests
#   make demo       the main job: memcached under the shim on a DPDK port
#   make bench      benchmarks/ (not tests)
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
BUILD := build
CC ?= cc

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
BASE_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC \
	-U_FORTIFY_SOURCE -fno-strict-aliasing
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_LIBS := $(shell pkg-config --libs libdpdk 2>/dev/null)

# The shim exports only the calls it interposes.
SHIM_CFLAGS := $(BASE_CFLAGS) -fvisibility=hidden

COMMON_SRC := common/real.c common/log.c
STACK_SRC := stack/stack.c stack/wire.c stack/arp.c stack/ipv4.c stack/icmp.c \
	stack/tcp_wire.c stack/ipv4_frag.c stack/timer.c stack/tcp_isn.c \
	stack/tcp_subr.c stack/tcp_input.c stack/tcp_output.c stack/tcp_timer.c \
	stack/tcp_usrreq.c stack/tcp_cc.c stack/tcp_loss.c
DEV_SRC := dev/net_dpdk.c dev/impair.c dev/nvme.c dev/nvme_uring.c
STORAGE_SRC := storage/policy.c storage/extmap.c storage/ctx.c storage/io.c
SOCKETS_SRC := sockets/netif.c sockets/wait.c sockets/sock.c sockets/epoll.c \
	sockets/stats.c sockets/flows.c
PRELOAD_SRC := preload/config.c preload/fdtable.c preload/fdreserve.c preload/runtime.c \
	preload/interpose.c preload/files.c
SHIM_SRC := $(COMMON_SRC) $(STACK_SRC) $(DEV_SRC) $(STORAGE_SRC) $(SOCKETS_SRC) $(PRELOAD_SRC)
SHIM_OBJ := $(SHIM_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_TESTS := $(BUILD)/tests/test_stack_wire $(BUILD)/tests/test_stack_input \
	$(BUILD)/tests/test_preload_config $(BUILD)/tests/test_preload_fdtable \
	$(BUILD)/tests/test_stack_tcp_wire \
	$(BUILD)/tests/test_stack_ipv4_frag $(BUILD)/tests/test_stack_timer \
	$(BUILD)/tests/test_stack_tcp_isn $(BUILD)/tests/test_stack_tcp \
	$(BUILD)/tests/test_sockets_flows \
	$(BUILD)/tests/test_storage_extmap $(BUILD)/tests/test_storage_policy \
	$(BUILD)/tests/test_storage_io
TEST_PROGS := $(BUILD)/tests/forkexec $(BUILD)/tests/waitmix \
	$(BUILD)/tests/callmix $(BUILD)/tests/sockdiff $(BUILD)/tests/sockthreads \
	$(BUILD)/tests/stackmix \
	$(BUILD)/tests/fdlimit $(BUILD)/tests/libearlyhook.so $(BUILD)/tests/fileio
BENCH_PROGS := $(BUILD)/bench/callcost $(BUILD)/bench/kecho $(BUILD)/bench/stacklink \
	$(BUILD)/bench/jitter $(BUILD)/bench/c2c

.PHONY: all deps check unit integration demo bench install clean
all: $(BUILD)/libaccel.so $(BUILD)/accel $(BUILD)/stack-echo $(BUILD)/accel-stat \
	$(BUILD)/accel-load

$(BUILD)/obj/dev/%.o: dev/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) $(DPDK_CFLAGS) -MMD -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -MMD -c $< -o $@

$(BUILD)/libaccel.so: $(SHIM_OBJ)
	$(CC) -shared -o $@ $^ -Wl,-z,defs -Wl,--as-needed $(DPDK_LIBS) -luring -lnuma -ldl -lpthread

$(BUILD)/accel: preload/launcher.c preload/config.c common/log.c common/real.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $^ -ldl

# Tools built on stack/ and dev/ directly, without the preload layer.
TOOL_OBJ := $(filter-out $(BUILD)/obj/preload/% $(BUILD)/obj/storage/% \
	$(BUILD)/obj/dev/nvme%,$(SHIM_OBJ))

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
	$(CC) -o $@ $^ -Wl,--as-needed $(DPDK_LIBS) -lnuma -ldl -lpthread

# ---- tests ----------------------------------------------------------------
TEST_CFLAGS := $(BASE_CFLAGS) -Wno-unused-parameter

$(BUILD)/tests/test_stack_%: tests/stack/test_%.c $(STACK_SRC) tests/stack/link.h \
		tests/stack/tcplink.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STACK_SRC) -lcmocka

$(BUILD)/tests/test_preload_%: tests/preload/test_%.c $(PRELOAD_SRC) $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< preload/$*.c $(COMMON_SRC) -lcmocka -ldl

$(BUILD)/tests/test_sockets_%: tests/sockets/test_%.c sockets/%.c sockets/sock_impl.h \
		sockets/sockets_impl.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< sockets/$*.c -lcmocka -lpthread

$(BUILD)/tests/test_storage_%: tests/storage/test_%.c storage/%.c storage/storage.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< storage/$*.c $(COMMON_SRC) -lcmocka -ldl

# The contract on a mock transport (in place of dev/nvme.c).
$(BUILD)/tests/test_storage_io: tests/storage/test_io.c $(STORAGE_SRC) storage/storage.h \
		storage/st_impl.h dev/nvme.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STORAGE_SRC) $(COMMON_SRC) -lcmocka -ldl -lpthread

$(BUILD)/tests/lib%.so: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

$(BUILD)/tests/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/sockdiff: tests/progs/sockdiff.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lcmocka

$(BUILD)/bench/%: benchmarks/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

# The stack alone: its sources, no DPDK.
$(BUILD)/bench/stacklink: benchmarks/stacklink.c $(STACK_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STACK_SRC)

deps:
	@scripts/deps.sh

unit: $(UNIT_TESTS)
	@scripts/run-unit.sh $(UNIT_TESTS)

integration: all $(TEST_PROGS)
	@tests/integration/run.sh

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_PROGS) $(BENCH_PROGS)
	@scripts/run-unit.sh $(UNIT_TESTS)
	@tests/integration/run.sh
	@QUICK=1 scripts/demo.sh

demo: deps
	@$(MAKE) --no-print-directory all $(BENCH_PROGS)
	@QUICK=$(QUICK) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_PROGS)
	@benchmarks/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BUILD)/libaccel.so $(DESTDIR)$(PREFIX)/lib/libaccel.so
	install -m 0755 $(BUILD)/accel $(DESTDIR)$(PREFIX)/bin/accel
	install -m 0755 $(BUILD)/accel-stat $(DESTDIR)$(PREFIX)/bin/accel-stat
	install -m 0755 $(BUILD)/accel-load $(DESTDIR)$(PREFIX)/bin/accel-load
	sed -e 's|@PREFIX@|$(PREFIX)|' accel.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/accel.pc

clean:
	rm -rf $(BUILD)

-include $(SHIM_OBJ:.o=.d) $(BUILD)/obj/tools/stack_echo.d $(BUILD)/obj/tools/sha256.d
