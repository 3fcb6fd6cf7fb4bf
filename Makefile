# ocp_backup: PGXS build.  `make && make install`, then see README.md.

EXTENSION = ocp_backup
# The version, written once: the control file's default_version.
OCPB_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" ocp_backup.control)
MODULE_big = ocp_backup
DATA = sql/ocp_backup--1.0.sql sql/ocp_backup--1.0--1.1.sql sql/ocp_backup--1.1--1.2.sql

# The pure core: plain C over cJSON and libcrypto, no PostgreSQL headers.
# It lives in src/core/ and is compiled without PostgreSQL's include
# directories (the rule for src/core/%.o below), so a PostgreSQL header there
# does not compile; it includes no header outside src/core/ (make
# check-includes).
CORE_OBJS = src/core/strbuf.o src/core/args.o src/core/request.o src/core/auth.o \
	src/core/response.o src/core/scrub.o src/core/json_plain.o
CORE_SRCS = $(CORE_OBJS:.o=.c)
CORE_HEADERS = $(wildcard src/core/*.h)
# The shell: PostgreSQL entry points, catalog access, libcurl, SPI.
SHELL_OBJS = src/ocp_backup.o src/call.o src/options.o src/endpoint.o src/connection.o src/http.o \
	src/journal.o src/journal_row.o src/catalog.o src/json_accept.o src/mask.o \
	src/call_log.o src/journal_writer.o src/report.o src/rows.o src/check.o src/task.o \
	src/wire_text.o src/ocp_list.o src/server_loop.o src/subxact.o src/sync.o src/reconcile.o \
	src/rename.o src/refresh.o src/await.o
OBJS = $(CORE_OBJS) $(SHELL_OBJS)

# The suites are test/sql/NAME.sql with test/expected/NAME.out; each runs
# alone too (make installcheck REGRESS=NAME).  They run in an instance of
# their own configured by test/regress.conf, with simulators that
# test/with_sims starts for each suite: run as a user initdb accepts (not
# root), with pg_cron installed.
REGRESS = install upgrade validation options backup_now errors server_choice aksk_tls journal tasks grants \
	security encoding proxy cron cron_recipes dump_restore server_log fleet reconcile rename many mask call_log_xact nightly fleet_status recover
REGRESS_OPTS = --inputdir=test --outputdir=test/.work/regress --launcher=test/with_sims \
	--temp-instance=test/.work/instance --temp-config=test/regress.conf
REGRESS_PREP = test/.work/regress

# The suites' instance finds proxy variables in its environment, as a
# server's may, pointing at a test proxy that test/with_sims runs on this
# port for each suite: the extension must ignore them (test/sql/proxy.sql).
# The port is chosen before pg_regress starts the instance.
ifneq ($(filter installcheck,$(MAKECMDGOALS)),)
OCPB_TEST_PROXY_PORT := $(shell python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
installcheck: export OCPB_TEST_PROXY_PORT := $(OCPB_TEST_PROXY_PORT)
installcheck: export http_proxy := http://127.0.0.1:$(OCPB_TEST_PROXY_PORT)
installcheck: export https_proxy := http://127.0.0.1:$(OCPB_TEST_PROXY_PORT)
installcheck: export all_proxy := http://127.0.0.1:$(OCPB_TEST_PROXY_PORT)
installcheck: export no_proxy :=
installcheck: export NO_PROXY :=
endif

WARNINGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
PG_CFLAGS = $(WARNINGS)
# The version for the module's magic block (18+) and OCP's User-Agent.
PG_CPPFLAGS += -DOCPB_VERSION='"$(OCPB_VERSION)"'
# The shell includes the core's headers by their names.
PG_CPPFLAGS += -Isrc/core
SHLIB_LINK = -lcurl -lcjson -lcrypto -lm

# Before the include: pgxs.mk tests it with ifdef as it is read.  UNIT_TESTS
# is defined below, which is fine for a recursively expanded variable.
EXTRA_CLEAN = $(UNIT_TESTS) test/fuzz/fuzz_response test/.work ocp_backup-$(OCPB_VERSION).zip

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (Debian's server is built without
# --enable-depend): rebuild every object when a header changes, so that no
# object keeps an old layout of a shared struct.
$(OBJS): $(wildcard src/*.h) $(CORE_HEADERS)

# The core's objects: PGXS's flags for a shared library (its CFLAGS hold
# CFLAGS_SL and this Makefile's WARNINGS), its preprocessor definitions
# (_GNU_SOURCE, _FORTIFY_SOURCE), and no include directory but src/core and
# the system's: not PostgreSQL's server or internal headers that PGXS puts
# in CPPFLAGS for the shell.  The same for the bitcode that PGXS builds for
# LLVM's inlining when the server has JIT.
CORE_CPPFLAGS = -Isrc/core $(filter -D%,$(CPPFLAGS))

src/core/%.o: src/core/%.c
	$(CC) $(CFLAGS) $(CORE_CPPFLAGS) -c -o $@ $<

src/core/%.bc: src/core/%.c
	$(CLANG) -Wno-ignored-attributes $(BITCODE_CFLAGS) $(CORE_CPPFLAGS) -flto=thin -emit-llvm -c -o $@ $<

# The fence holds: a probe in src/core that includes postgres.h compiles
# with the shell's flags (so the header is there to find) and fails with the
# core's, for want of postgres.h.
check-core-fence:
	@probe=src/core/.fence_probe; \
	printf '#include "postgres.h"\nint ocpb_fence_probe(void);\nint ocpb_fence_probe(void) { return 0; }\n' >$$probe.c; \
	if ! $(CC) $(CFLAGS) $(CPPFLAGS) -c -o $$probe.o $$probe.c; then \
		rm -f $$probe.c $$probe.o; \
		echo "FAIL check-core-fence: the probe does not compile with the shell's flags either" >&2; exit 1; \
	fi; \
	if errors=$$($(CC) $(CFLAGS) $(CORE_CPPFLAGS) -c -o $$probe.o $$probe.c 2>&1); then \
		rm -f $$probe.c $$probe.o; \
		echo "FAIL check-core-fence: postgres.h compiles in src/core" >&2; exit 1; \
	fi; \
	rm -f $$probe.c $$probe.o; \
	if ! printf '%s\n' "$$errors" | grep -q 'postgres\.h'; then \
		printf '%s\n' "$$errors" >&2; \
		echo "FAIL check-core-fence: the probe fails with the core's flags, but not for want of postgres.h" >&2; exit 1; \
	fi; \
	echo "PASS check-core-fence: postgres.h does not compile in src/core"

# The graph of quoted includes among src/**/*.{c,h}: no circle, and the core
# includes only itself (after the checker's own test on made-up trees).
check-includes:
	@python3 test/include_graph.py --self-test && python3 test/include_graph.py

# Unit tests of the pure core run outside any backend.
UNIT_TESTS = $(patsubst test/unit/%.c,test/unit/%.bin,$(wildcard test/unit/test_*.c))
UNIT_CFLAGS = -std=gnu99 -g -O1 -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wdeclaration-after-statement -Isrc/core -Itest/unit

test/unit/%.bin: test/unit/%.c $(CORE_SRCS) $(CORE_HEADERS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) -lcjson -lcrypto -lm

# The plain-JSON recognizer is checked against PostgreSQL's own parser:
# its frontend build, in libpgcommon.
test/unit/test_json_plain.bin: test/unit/test_json_plain.c $(CORE_SRCS) $(CORE_HEADERS) test/unit/*.h
	$(CC) $(UNIT_CFLAGS) -I$(includedir_server) -o $@ $< $(CORE_SRCS) \
		$(pkglibdir)/libpgcommon.a $(pkglibdir)/libpgport.a -lcjson -lcrypto -lm

# The test layers, one target each, each a script test/checks/NAME that
# prints one line per check on stdout, "PASS what" or "FAIL what", and exits
# non-zero when one failed; test/run runs them in order and counts the
# lines.  They run against the PostgreSQL of PG_CONFIG (its bindir first on
# PATH).  make installcheck stays PGXS's own; check-regress runs it as a
# user initdb accepts and prints a line per suite.
CHECK = PATH="$(bindir):$$PATH" bash test/checks

# Builds and runs the unit tests, and checks the core's fence and the
# include graph.
unit: $(UNIT_TESTS)
	@$(CHECK)/unit

# The unit tests again under valgrind.
check-valgrind: $(UNIT_TESTS)
	@$(CHECK)/valgrind

# The release metadata and the Debian package; INSTALL_PACKAGE=1 installs it
# (root).
check-release:
	@$(CHECK)/release $(if $(filter 1,$(INSTALL_PACKAGE)),--install)

# The response parser under libFuzzer for SECONDS (default 60), given on
# make's command line (the shell's own SECONDS is not read).
check-fuzz:
	@$(CHECK)/fuzz $(if $(filter command line,$(origin SECONDS)),$(SECONDS),60)

# The simulator's and the proxy's self-tests.
check-sim:
	@$(CHECK)/sim

# Every pg_regress suite (or those of REGRESS=...), a line per suite.
check-regress:
	@REGRESS='$(REGRESS)' $(CHECK)/regress

# What pg_regress cannot host, each on a throwaway cluster or with a
# simulator of its own: the hot standby's refusals, the updates from 1.0 and
# 1.1, the recipes against planted overloads, the SQL of README.md and
# docs/, the fault tests (a quick run; FULL=1 the full one, some 15 minutes),
# the crash tests, the benchmarks in smoke mode, and PostgreSQL 17 and 18
# (test/pg_majors, as root).
check-standby:
	@$(CHECK)/standby
check-upgrade:
	@$(CHECK)/upgrade
check-recipes:
	@$(CHECK)/recipes
check-readme:
	@$(CHECK)/readme
check-faults:
	@$(CHECK)/faults $(if $(filter 1,$(FULL)),--full)
check-crashes:
	@$(CHECK)/crashes
bench-smoke:
	@$(CHECK)/bench-smoke
check-majors:
	@$(CHECK)/majors

.PHONY: check-valgrind check-release check-fuzz check-sim check-regress check-standby check-upgrade \
	check-recipes check-readme check-faults check-crashes bench-smoke check-majors

test/.work/regress:
	mkdir -p $@

# initdb refuses root, and pg_regress then says only "initdb failed".
installcheck: installcheck-not-root
installcheck-not-root:
	@if [ "$$(id -u)" -eq 0 ]; then \
		echo "make installcheck cannot run as root: its instance is made by initdb, which refuses root." >&2; \
		echo "Run it as a user that may write test/.work here (for example postgres), or run 'make check-regress' (or 'bash test/run') as root, which does that for you." >&2; \
		exit 1; \
	fi

# A libFuzzer harness for the response parser (clang and libclang-rt-14-dev),
# with PostgreSQL's frontend JSON parser beside the plain-JSON recognizer
# (its headers, configured for gcc, declare a printf format clang does not
# know: -Wno-ignored-attributes); test/fuzz/run runs it.
FUZZ_CC = clang
FUZZ_CFLAGS = -std=gnu99 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wdeclaration-after-statement -Isrc/core

test/fuzz/fuzz_response: test/fuzz/fuzz_response.c $(CORE_SRCS) $(CORE_HEADERS) test/unit/postgres_json.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-ignored-attributes -I$(includedir_server) -o $@ $< $(CORE_SRCS) \
		$(pkglibdir)/libpgcommon.a $(pkglibdir)/libpgport.a -lcjson -lcrypto -lm

fuzz: test/fuzz/fuzz_response

.PHONY: unit fuzz installcheck-not-root check-core-fence check-includes

# A PGXN release: the committed tree at HEAD, under ocp_backup-VERSION/.
dist:
	git archive --format=zip --prefix=ocp_backup-$(OCPB_VERSION)/ -o ocp_backup-$(OCPB_VERSION).zip HEAD

.PHONY: dist
