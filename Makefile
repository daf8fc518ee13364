# Pattern Real-Time — build, run, test.
#
#   make                  engine + nginx module (warnings are errors)
#   make deps             install Debian packages (root); see scripts/install-deps
#   make demo             generated data -> index -> engine + nginx -> replay + scan
#   make start / stop     run engine + nginx locally (PORT, DATA, CLOCK, STORE)
#   make test             unit tests, then the t/ suite against real nginx + engine
#   make deb              Debian packages into build/deb/ (debian/, scripts/build-deb)
#   make fuzz             build the libFuzzer targets (clang)
#   make fuzz-run         build and run each for FUZZ_SECONDS (60) on its seeds
#   make bench            print the benchmark figures (docs/benchmarks.md)
#   make screenshot       the trader page with the demo data -> docs/screenshot.png

BUILD      ?= build
NGINX_SRC  ?= /usr/share/nginx/src
# FAISS's sources and its AVX2 library, built once per machine by
# scripts/install-deps (docs/build.md); a checkout's own .deps/faiss is the
# older place of the sources and still found. PRT_CACHE as for install-deps.
PRT_CACHE  ?= /var/cache/pattern-rt
FAISS_CACHE ?= $(PRT_CACHE)/faiss-1.7.3-2
FAISS_SRC  ?= $(firstword $(patsubst %/c_api,%,$(wildcard \
              $(FAISS_CACHE)/src/c_api .deps/faiss/c_api)) .deps/faiss)
FAISS_AVX2 ?= $(wildcard $(FAISS_CACHE)/avx2/libfaiss_avx2.a)
CC         ?= cc
CXX        ?= c++

PKGS        = lmdb yajl libpcre2-8 openssl zlib libcurl libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN        = -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
              -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT        ?= -O2 -g
# common/ and ngx_module/ see only include/; the engine sees engine/ too, and
# the command-line tools (tools/) are reached as "tools/x.h" from the top
CFLAGS_BASE = -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -pthread \
              -Iinclude $(PKG_CFLAGS) $(CFLAGS)
CFLAGS_ALL  = $(CFLAGS_BASE) -Iengine -I.
FAISS_LIBS  = $(BUILD)/libfaiss_c.a /usr/lib/x86_64-linux-gnu/libfaiss.a \
              -fopenmp -lopenblas -llapack
LIBS        = $(FAISS_LIBS) $(PKG_LIBS) -lstdc++ -lm -pthread
# The AVX2 variant: the same objects, FAISS's AVX2 library, and faiss_ext
# compiled with the flags that library was compiled with (its inline header
# code then matches). The generic engine hands over to it at start when the
# CPU has AVX2 (engine/core/mathenv.c).
AVX2_FLAGS  = -mavx2 -mfma -mf16c -mpopcnt
LIBS_AVX2   = $(BUILD)/libfaiss_c.a $(FAISS_AVX2) -fopenmp -lopenblas -llapack \
              $(PKG_LIBS) -lstdc++ -lm -pthread

# common/: the pure C both the engine and the module are built with
COMMON_SRC := $(sort $(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
# the one binary: the daemon (engine/) and the command-line tools (tools/)
ENGINE_SRC := $(sort $(wildcard engine/*.c engine/*/*.c tools/*.c))
ENGINE_CXX := $(sort $(wildcard engine/*/*.cpp))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o) $(ENGINE_CXX:%.cpp=$(BUILD)/%.o) \
              $(COMMON_OBJ)
ENGINE_LIB := $(filter-out $(BUILD)/engine/main.o,$(ENGINE_OBJ))
# The module's nginx-free files (request parsers, WebSocket frames and
# messages) are also linked into the unit tests. They are the ones named
# ngx_http_pattern_rt_<family>_<part>.c (docs/development.md); they are
# compiled here without nginx's include directories, so one that includes
# nginx fails the build.
MODULE_PURE_SRC := $(sort $(wildcard ngx_module/ngx_http_pattern_rt_*_*.c))
MODULE_PURE_OBJ := $(MODULE_PURE_SRC:%.c=$(BUILD)/%.o)
# kept between builds (make would delete them as intermediates)
.SECONDARY: $(MODULE_PURE_OBJ)
UNIT_SRC   := $(sort $(wildcard t/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:%.c=$(BUILD)/%)
# the engine's neighbours on either FAISS library (t/041-faiss-isa.t)
ISA_PROBE   = $(BUILD)/t/unit/faiss_neighbours
MODULE_SRC := $(wildcard ngx_module/*.c ngx_module/*.h include/*.h \
              common/*.c) config
MODULE_SO   = $(BUILD)/nginx/ngx_http_pattern_rt_module.so
ENGINE_BIN  = $(BUILD)/pattern-rt-engine
ENGINE_AVX2 = $(if $(FAISS_AVX2),$(ENGINE_BIN)-avx2)
EXT_AVX2    = $(BUILD)/avx2/engine/index/faiss_ext.o
ENGINE_OBJ_AVX2 = $(filter-out $(BUILD)/engine/index/faiss_ext.o,$(ENGINE_OBJ)) \
              $(EXT_AVX2)

FAISS_C_SRC = $(filter-out %/gpu/%,$(wildcard $(FAISS_SRC)/c_api/*.cpp \
              $(FAISS_SRC)/c_api/impl/*.cpp $(FAISS_SRC)/c_api/utils/*.cpp))
FAISS_C_OBJ = $(FAISS_C_SRC:$(FAISS_SRC)/c_api/%.cpp=$(BUILD)/faiss_c/obj/%.o)

.PHONY: all engine module unit deps deb demo start stop test fuzz fuzz-run \
        bench clean screenshot
all: engine module

engine: $(ENGINE_BIN) $(ENGINE_AVX2)
module: $(MODULE_SO)
unit: $(UNIT_BIN) $(ISA_PROBE) $(if $(FAISS_AVX2),$(ISA_PROBE)-avx2)

deps:
	scripts/install-deps

# FAISS's own C API, compiled against the installed headers (docs/build.md).
# The headers are reached as <faiss/c_api/...> from the installed tree; the
# objects come from Debian's source package unpacked by scripts/install-deps.
$(BUILD)/faiss_c/obj/%.o: $(FAISS_SRC)/c_api/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -fPIC -fopenmp -w -c $< -o $@

$(BUILD)/libfaiss_c.a: $(FAISS_C_OBJ)
	@test -n "$(FAISS_C_OBJ)" || { echo "FAISS C API sources missing: run 'make deps'" >&2; exit 1; }
	rm -f $@ && ar rcs $@ $^

$(BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# C++ only where FAISS's C API stops (engine/index/faiss_ext.cpp)
$(BUILD)/engine/%.o: engine/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) -Wall -Wextra -Werror -fopenmp -Iengine -MMD -MP -c $< -o $@

$(ENGINE_BIN): $(ENGINE_OBJ) $(BUILD)/libfaiss_c.a
	$(CC) $(OPT) -o $@ $(ENGINE_OBJ) $(LIBS) $(LDFLAGS)

$(EXT_AVX2): engine/index/faiss_ext.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) $(AVX2_FLAGS) -Wall -Wextra -Werror -fopenmp -Iengine -MMD -MP -c $< -o $@

$(ENGINE_BIN)-avx2: $(ENGINE_OBJ_AVX2) $(BUILD)/libfaiss_c.a $(FAISS_AVX2)
	$(CC) $(OPT) -o $@ $(ENGINE_OBJ_AVX2) $(LIBS_AVX2) $(LDFLAGS)

$(BUILD)/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -MMD -MP -c $< -o $@

$(BUILD)/ngx_module/%.o: ngx_module/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -MMD -MP -c $< -o $@

$(BUILD)/t/unit/%: t/unit/%.c $(wildcard t/unit/*.h) $(ENGINE_LIB) \
                   $(MODULE_PURE_OBJ) \
                   $(BUILD)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -It/unit -Ingx_module -o $@ $< $(ENGINE_LIB) \
	    $(MODULE_PURE_OBJ) $(LIBS) $(LDFLAGS)

$(ISA_PROBE): t/unit/faiss_neighbours.c $(ENGINE_LIB) $(BUILD)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(ENGINE_LIB) $(LIBS) $(LDFLAGS)

$(ISA_PROBE)-avx2: t/unit/faiss_neighbours.c $(filter-out %/faiss_ext.o,$(ENGINE_LIB)) \
                   $(EXT_AVX2) $(BUILD)/libfaiss_c.a $(FAISS_AVX2)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(filter-out %/faiss_ext.o,$(ENGINE_LIB)) \
	    $(EXT_AVX2) $(LIBS_AVX2) $(LDFLAGS)

# The module is built the way Debian builds its own nginx modules: nginx-dev's
# configure with Debian's flags (--with-compat among them) and `make modules`.
$(MODULE_SO): $(MODULE_SRC)
	@mkdir -p $(BUILD)/nginx
	scripts/build-module $(BUILD)/nginx

-include $(ENGINE_OBJ:.o=.d) $(MODULE_PURE_OBJ:.o=.d) $(EXT_AVX2:.o=.d)

test: all unit
	t/run

# dpkg-buildpackage -b on a copy of the tree; objects kept in build/deb/objects
deb:
	scripts/build-deb $(BUILD)/deb

fuzz:
	$(MAKE) -C fuzz BUILD=$(abspath $(BUILD))/fuzz

FUZZ_SECONDS ?= 60
fuzz-run:
	$(MAKE) -C fuzz run-all BUILD=$(abspath $(BUILD))/fuzz \
	    FUZZ_SECONDS=$(FUZZ_SECONDS)

bench: all
	bench/run

PORT  ?= 8080
DATA  ?=
CLOCK ?= real
STORE ?=
start: all
	scripts/pattern-rt start --port $(PORT) --clock $(CLOCK) $(if $(DATA),--data $(DATA)) $(if $(STORE),--store "$(STORE)")
stop:
	scripts/pattern-rt stop --port $(PORT)
demo: all
	scripts/pattern-rt demo --port $(PORT)

SHOT_PORT ?= 8089
screenshot: all
	scripts/screenshot --port $(SHOT_PORT)

clean:
	rm -rf $(BUILD)
