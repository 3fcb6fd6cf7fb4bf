# ocp_backup: PGXS build.  `make && make install`, then see README.md.

EXTENSION = ocp_backup
# The version, written once: the control file's default_version.
OCPB_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" ocp_backup.control)
MODULE_big = ocp_backup
DATA = sql/ocp_backup--1.0.sql sql/ocp_backup--1.0--1.1.sql sql/ocp_backup--1.1--1.2.sql

# The pure core: plain C over cJSON and libcrypto, no PostgreSQL headers.
CORE_OBJS = src/args.o src/request.o src/auth.o src/response.o src/scrub.o src/json_plain.o
# The shell: PostgreSQL entry points, catalog access, libcurl, SPI.
SHELL_OBJS = src/ocp_backup.o src/call.o src/options.o src/endpoint.o src/connection.o src/http.o \
	src/journal.o src/report.o src/rows.o src/check.o src/spool.o src/task.o \
	src/wire_text.o src/ocp_list.o src/server_loop.o src/subxact.o src/sync.o src/reconcile.o \
	src/rename.o src/refresh.o src/await.o
OBJS = $(CORE_OBJS) $(SHELL_OBJS)

# The suites are test/sql/NAME.sql with test/expected/NAME.out; each runs
# alone too (make installcheck REGRESS=NAME).  They run in an instance of
# their own configured by test/regress.conf, with simulators that
# test/with_sims starts for each suite: run as a user initdb accepts (not
# root), with pg_cron installed.
REGRESS = install upgrade validation backup_now errors server_choice aksk_tls journal tasks grants \
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
$(OBJS): $(wildcard src/*.h)

# Unit tests of the pure core run outside any backend.
UNIT_TESTS = $(patsubst test/unit/%.c,test/unit/%.bin,$(wildcard test/unit/test_*.c))
UNIT_CFLAGS = -std=gnu99 -g -O1 -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wdeclaration-after-statement -Isrc -Itest/unit

test/unit/%.bin: test/unit/%.c $(CORE_OBJS:.o=.c) src/*.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_OBJS:.o=.c) -lcjson -lcrypto -lm

# The plain-JSON recognizer is checked against PostgreSQL's own parser:
# its frontend build, in libpgcommon.
test/unit/test_json_plain.bin: test/unit/test_json_plain.c $(CORE_OBJS:.o=.c) src/*.h test/unit/*.h
	$(CC) $(UNIT_CFLAGS) -I$(includedir_server) -o $@ $< $(CORE_OBJS:.o=.c) \
		$(pkglibdir)/libpgcommon.a $(pkglibdir)/libpgport.a -lcjson -lcrypto -lm

# Builds and runs the unit tests.
unit: $(UNIT_TESTS)
	@status=0; for test in $(UNIT_TESTS); do ./$$test || status=1; done; exit $$status

test/.work/regress:
	mkdir -p $@

# initdb refuses root, and pg_regress then says only "initdb failed".
installcheck: installcheck-not-root
installcheck-not-root:
	@if [ "$$(id -u)" -eq 0 ]; then \
		echo "make installcheck cannot run as root: its instance is made by initdb, which refuses root." >&2; \
		echo "Run it as a user that may write test/.work here (for example postgres), or run 'bash test/run' as root, which does that for you." >&2; \
		exit 1; \
	fi

# A libFuzzer harness for the response parser (clang and libclang-rt-14-dev),
# with PostgreSQL's frontend JSON parser beside the plain-JSON recognizer
# (its headers, configured for gcc, declare a printf format clang does not
# know: -Wno-ignored-attributes); test/fuzz/run runs it.
FUZZ_CC = clang
FUZZ_CFLAGS = -std=gnu99 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wdeclaration-after-statement -Isrc

test/fuzz/fuzz_response: test/fuzz/fuzz_response.c $(CORE_OBJS:.o=.c) src/*.h test/unit/postgres_json.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-ignored-attributes -I$(includedir_server) -o $@ $< $(CORE_OBJS:.o=.c) \
		$(pkglibdir)/libpgcommon.a $(pkglibdir)/libpgport.a -lcjson -lcrypto -lm

fuzz: test/fuzz/fuzz_response

.PHONY: unit fuzz installcheck-not-root

# A PGXN release: the committed tree at HEAD, under ocp_backup-VERSION/.
dist:
	git archive --format=zip --prefix=ocp_backup-$(OCPB_VERSION)/ -o ocp_backup-$(OCPB_VERSION).zip HEAD

.PHONY: dist
