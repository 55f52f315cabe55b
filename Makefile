# tradingd: supervisor, workers, control tool and exchange simulator.
# `make` builds bin/; `make run` starts the daemon on the offline default; `make test` runs all.

ifeq ($(origin CC),default)
CC       := gcc
endif
PREFIX   ?= /usr/local
DESTDIR  ?=
PKGS     := libcurl jansson libuv sqlite3 openssl
SIM_PKGS := libmicrohttpd

# SAN=1 builds everything with AddressSanitizer+UBSan into build-asan/ and bin-asan/.
ifeq ($(SAN),1)
BUILD    ?= build-asan
BIN      ?= bin-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
BIN      ?= bin
SANFLAGS :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(SIM_PKGS) cmocka 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LIBS      = $(shell pkg-config --libs $(PKGS)) -lm
# The supervisor, tradectl and the workers without network need only these: linked statically
# (Debian ships the archives) and with --as-needed, they load in a fraction of the time and
# memory that libcurl's 28 shared objects cost. Only tradingd-net links libcurl/OpenSSL.
CORE_LIBS = -Wl,--as-needed -Wl,-Bstatic -luv_a -lsqlite3 -ljansson -Wl,-Bdynamic \
	    -lpthread -ldl -lrt -lm
NET_LIBS  = -Wl,--as-needed $(shell pkg-config --libs libcurl openssl) $(CORE_LIBS)
SIM_LIBS  = $(shell pkg-config --libs $(SIM_PKGS))

# Files named *_main.c hold a main(); everything else goes into a static library.
ALL_SRCS  := $(wildcard common/*.c ipc/*.c supervisor/*.c workers/*.c workers/*/*.c)
LIB_SRCS  := $(filter-out %_main.c,$(ALL_SRCS))
SIM_SRCS  := $(filter-out %_main.c,$(wildcard sim/*.c))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
# Strategy plugins the integration tests load (a good one and a wrong interface version).
PLUGIN_SRCS := $(wildcard tests/plugins/*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
PLUGINS   := $(PLUGIN_SRCS:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)
PROGRAMS  := $(BIN)/tradingd $(BIN)/tradingd-net $(BIN)/tradingd-api $(BIN)/tradectl \
	     $(BIN)/upbit-sim

.PHONY: all deps run test unit lint bench install clean format fuzz
all: deps $(PROGRAMS)

deps:
	@sh .ci/ensure-deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtd.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsim.a: $(SIM_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/tradingd: $(BUILD)/supervisor/tradingd_main.o $(BUILD)/libtd.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BIN)/tradingd-net: $(BUILD)/workers/tradingd_net_main.o $(BUILD)/libtd.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(NET_LIBS)

# The api worker: libmicrohttpd (shared) and the core archives, no libcurl or OpenSSL.
$(BIN)/tradingd-api: $(BUILD)/workers/tradingd_api_main.o $(BUILD)/libtd.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS) $(CORE_LIBS)

$(BIN)/tradectl: $(BUILD)/supervisor/tradectl_main.o $(BUILD)/libtd.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BIN)/upbit-sim: $(BUILD)/sim/upbit_sim_main.o $(BUILD)/libsim.a $(BUILD)/libtd.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsim.a $(BUILD)/libtd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) -lcmocka $(SIM_LIBS) $(LIBS)

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

unit: $(TESTS) $(PLUGINS)

# libFuzzer harnesses (tests/fuzz/fuzz_*.c) for the parsers of untrusted input, built with clang
# into build-fuzz/: the code under test gets coverage and ASan+UBSan, the harness the fuzzer's
# main. tests/fuzz/run.sh runs each for a few seconds. No -Werror: gcc's build holds the code to
# that; a warning only clang gives must not stop the fuzzing.
FUZZ_CC     := clang
FUZZ_BUILD  := build-fuzz
FUZZ_SAN    := address,undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-missing-field-initializers -I. \
	       $(PKG_CFLAGS) -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined -MMD -MP
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
# The parsers live in these; the archive spares compiling the workers and the supervisor.
FUZZ_LIB    := $(filter-out %_main.c,$(wildcard common/*.c ipc/*.c workers/upbit/*.c))
FUZZERS     := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/libtd.a: $(FUZZ_LIB:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libtd.a
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(LIBS)

fuzz: $(FUZZERS)
.PRECIOUS: $(FUZZ_BUILD)/tests/fuzz/%.o

run: deps $(PROGRAMS)
	@mkdir -p var
	./$(BIN)/tradingd -c etc/tradingd.json

# Lint first, then unit tests, the parsers fuzzed briefly and integration tests, plain and under
# ASan+UBSan.
test:
	@sh .ci/ensure-deps.sh test
	@sh tests/run.sh

lint:
	@sh tests/lint.sh

bench: deps $(PROGRAMS)
	@sh .ci/ensure-deps.sh bench
	@sh bench/run.sh

format:
	clang-format -i $$(git ls-files -co --exclude-standard '*.c' '*.h')

# The example config gets the directories the unit provides (StateDirectory, RuntimeDirectory);
# the unit gets the binaries' PREFIX. The example also becomes /etc/tradingd/tradingd.json, the
# file the unit reads, when there is none: an existing one is never touched. Installing into the
# system itself (DESTDIR empty) also creates the account the config names, tradingd, and gives
# it the config's group so that the daemon can re-read it on reload after the drop; a staged
# install (DESTDIR set) leaves both to whoever installs the stage.
TD_USERADD := useradd --system --no-create-home --home-dir /nonexistent \
	--shell /usr/sbin/nologin --user-group tradingd
TD_CONFIG  := $(DESTDIR)/etc/tradingd/tradingd.json
install: $(PROGRAMS)
	@if [ -z "$(DESTDIR)" ] && ! getent passwd tradingd >/dev/null; then \
		echo "creating the system account tradingd"; $(TD_USERADD); fi
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tradingd \
		$(DESTDIR)/etc/tradingd $(DESTDIR)/lib/systemd/system
	install -m 0755 $(BIN)/tradingd $(BIN)/tradingd-net $(BIN)/tradingd-api $(BIN)/tradectl \
		$(BIN)/upbit-sim \
		$(DESTDIR)$(PREFIX)/bin/
	sed -e 's|"\./var/data"|"/var/lib/tradingd"|' -e 's|"\./var/run"|"/run/tradingd"|' \
		etc/tradingd.json >$(DESTDIR)$(PREFIX)/share/tradingd/tradingd.json.example
	chmod 0644 $(DESTDIR)$(PREFIX)/share/tradingd/tradingd.json.example
	@if [ -e $(TD_CONFIG) ] || [ -L $(TD_CONFIG) ]; then \
		echo "$(TD_CONFIG) exists: kept as it is"; \
	else \
		echo "installing $(TD_CONFIG): edit it, then systemctl enable --now tradingd"; \
		install -m 0640 $(if $(DESTDIR),,-g tradingd) \
			$(DESTDIR)$(PREFIX)/share/tradingd/tradingd.json.example $(TD_CONFIG); \
	fi
	sed -e 's|/usr/local/|$(PREFIX)/|g' etc/tradingd.service \
		>$(DESTDIR)/lib/systemd/system/tradingd.service
	chmod 0644 $(DESTDIR)/lib/systemd/system/tradingd.service

clean:
	rm -rf build build-asan build-fuzz bin bin-asan

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/tests/*.d)
-include $(wildcard $(FUZZ_BUILD)/*/*.d $(FUZZ_BUILD)/*/*/*.d)
