# PGXS build of pg_upkeep: C++17 sources behind a C ABI shim.
EXTENSION    = pg_upkeep
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big   = $(EXTENSION)
DATA         = $(wildcard extension/$(EXTENSION)--*.sql)
SRCS         = $(sort $(wildcard src/core/*.cpp src/pg/*.cpp src/maint/*.cpp src/bgw/*.cpp src/abi/*.cpp))
OBJS         = $(SRCS:.cpp=.o)

# `make installcheck` (the PGXS convention) runs both suites against the
# running server that PGHOST/PGPORT/PGUSER name, as pg_regress does: it needs a
# superuser, pg_upkeep in shared_preload_libraries, a server initialised with
# --data-checksums and archive_mode off (the tests print all three), and
# writes results/ and output_iso/ here.
# scripts/test.sh and test/cluster/80_installcheck.sh run it that way.
#
# pg_regress: every sql/*.sql, in name order (files carry numeric prefixes).
# sql/*.psql are files 15_hostile_search_path includes, not tests.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS =
# Isolation specs and their expected output live in test/isolation; the
# installcheck rule already passes --outputdir=output_iso.
ISOLATION    = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

# No LLVM bitcode for the C++ sources: the clang bitcode rule does not get
# -std=c++17 (clang 14 then compiles C++14 and fails on std::optional), and
# JIT inlining buys a maintenance extension nothing.  Only `override` placed
# before the include works: a plain assignment is overwritten by
# Makefile.global, and pgxs.mk tests it at parse time.
override with_llvm = no

PG_CONFIG   ?= pg_config
# -isystem: PostgreSQL's headers trip -Wregister / -Wunused-parameter in C++17.
PG_CPPFLAGS += -Iinclude -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-missing-field-initializers -fvisibility=hidden -fvisibility-inlines-hidden
# PGXS links with gcc: name libstdc++ explicitly, or the .so lacks NEEDED
# libstdc++ and loads only because the server links ICU.  xxHash for row hashing.
SHLIB_LINK  += -lstdc++ -lxxhash

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The databases the suites create (and drop first): set after the include,
# which defines the defaults; PGXS adds --dbname=$(CONTRIB_TESTDB) and
# --dbname=$(ISOLATION_TESTDB) itself.  The expected output names them.
CONTRIB_TESTDB   = upkeep_regress
ISOLATION_TESTDB = upkeep_isolation

# Target-specific flags must extend CPPFLAGS after the include: PGXS
# has already folded PG_CPPFLAGS into CPPFLAGS with :=.
src/abi/module.o: CPPFLAGS += -DUPKEEP_VERSION='"$(EXTVERSION)"'

# Header dependencies: every object depends on every header (small project,
# correctness over cleverness).
$(OBJS): $(shell find include -name '*.h*')

.PHONY: unit format
unit:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 && ctest --test-dir build --output-on-failure

format:
	clang-format -i $(shell find src include test/unit -name '*.cpp' -o -name '*.hpp' -o -name '*.h')
