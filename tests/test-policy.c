/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy and [Daemon] parsing on the fixtures under tests/data/policy/: every key with good values
 * (good/) and each kind of bad one (bad/), with the exact FILE:LINE of every problem. */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "policy.h"
#include "strv.h"
#include "tests.h"

typedef struct Expect {
        unsigned line;
        const char *text; /* a substring of the message */
} Expect;

static const char *fixture(const char *rel) {
        static char buf[8448];

        snprintf(buf, sizeof buf, "%s/policy/%s", test_data_dir(), rel);
        return buf;
}

/* Parse bad/FILE as a policy named after it; return what policy_parse_buffer() returned. */
static int parse_fixture(const char *file, char **ret_path, Policy **ret, char ***problems) {
        _cleanup_free_ char *buf = NULL, *path = NULL, *name = NULL;
        size_t size;
        int r;

        const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

        path = strdup(fixture(file));
        name = strndup(base, strcspn(base, "."));
        ASSERT_NOT_NULL(path);
        ASSERT_NOT_NULL(name);
        ASSERT_OK(read_full_file(path, 1 << 20, &buf, &size));
        r = policy_parse_buffer(name, path, buf, size, NULL, ret, problems);
        *ret_path = TAKE_PTR(path);
        return r;
}

/* Exactly these problems, in this order, each "PATH:LINE: ...text...". */
static void assert_problems(char **problems, const char *path, const Expect *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char prefix[4200];

                if (!problems || !problems[i])
                        test_fail("%s: missing problem %zu (line %u, \"%s\")", path, i, e[i].line, e[i].text);
                snprintf(prefix, sizeof prefix, "%s:%u: ", path, e[i].line);
                if (strncmp(problems[i], prefix, strlen(prefix)) != 0 || !strstr(problems[i], e[i].text))
                        test_fail("problem %zu is \"%s\", expected \"%s...%s...\"", i, problems[i], prefix,
                                  e[i].text);
        }
        if (problems && problems[n])
                test_fail("unexpected extra problem \"%s\"", problems[n]);
}

static void test_bad(const char *file, const Expect *e, size_t n) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_free_ char *path = NULL;

        fprintf(stderr, "%s\n", file);
        ASSERT_ERROR(parse_fixture(file, &path, &p, &problems), EINVAL);
        ASSERT_NULL(p);
        assert_problems(problems, path, e, n);
}
#define TEST_BAD(file, ...)                                                  \
        do {                                                                 \
                static const Expect _e_[] = { __VA_ARGS__ };                 \
                test_bad(file, _e_, ELEMENTSOF(_e_));                        \
        } while (0)

static void test_bad_fixtures(void) {
        TEST_BAD("bad/executable.conf",
                 { 2, "Invalid Executable= value 'usr/bin/foo': must be a glob of an absolute path" },
                 { 3, "Invalid glob in Executable=: unterminated '['" },
                 { 4, "Empty value for Executable=" },
                 { 5, "trailing '\\'" },
                 { 7, "'#' starts a comment only at the beginning of a line" });
        TEST_BAD("bad/name.conf",
                 { 2, "unterminated '['" },
                 { 3, "at most 15 characters" },
                 { 4, "unknown character class" },
                 { 6, "Empty value for Name=" });
        TEST_BAD("bad/cgroup.conf",
                 { 2, "a cgroup path must start with '/'" },
                 { 3, "Invalid glob in Cgroup=: unterminated '['" });
        TEST_BAD("bad/unit.conf",
                 { 2, "Invalid Unit= value 'redis': a unit name needs a unit type suffix" },
                 { 3, "Invalid Unit= value 'redis.serv'" },
                 { 4, "Invalid glob in Unit=: unterminated '['" },
                 { 5, "'#' starts a comment only at the beginning of a line" });
        TEST_BAD("bad/user.conf",
                 { 2, "Invalid User= value '4294967296': not a valid numeric user ID" },
                 { 3, "Invalid User= value '4294967295': not a valid numeric user ID" },
                 { 4, "Invalid User= value '-1': not a valid user name" },
                 { 5, "Invalid User= value 'foo bar'" },
                 { 6, "Invalid User= value '1foo': not a valid numeric user ID" });
        TEST_BAD("bad/mode.conf",
                 { 4, "Invalid Mode= value 'fulll': expected onfault, full or none" },
                 { 5, "Invalid Mode= value 'FULL'" },
                 { 6, "Invalid Mode= value 'full # locks everything': expected onfault, full or none ('#' starts "
                      "a comment only at the beginning of a line)" },
                 { 7, "Empty value for Mode=" });
        TEST_BAD("bad/regions.conf",
                 { 4, "Invalid Regions= entry 'bss'" },
                 { 5, "Invalid glob in Regions=: empty pattern" },
                 { 6, "Invalid glob in Regions=: unterminated '['" },
                 { 7, "Empty value for Regions=" },
                 { 8, "Invalid Regions= entry '#': expected all, text, data, anon, heap, stack or file:GLOB ('#' "
                      "starts a comment" });
        TEST_BAD("bad/booleans.conf",
                 { 4, "Invalid Future= value 'maybe': expected yes or no" },
                 { 5, "Invalid Prefetch= value '2'" },
                 { 7, "Invalid RaiseMemlockLimit= value 'yes please'" });
        TEST_BAD("bad/maxpause.conf",
                 { 4, "Invalid MaxPause= value '99us': below the minimum of 100us" },
                 { 5, "Invalid MaxPause= value '-5ms': a duration cannot be negative" },
                 { 6, "Invalid MaxPause= value '99999999999999999999s': out of range" },
                 { 7, "Invalid MaxPause= value '18446744073710s': out of range" },
                 { 8, "Invalid MaxPause= value '5 ms': expected a duration" },
                 { 9, "Invalid MaxPause= value '5ks': expected a duration" },
                 { 10, "Invalid MaxPause= value '0': below the minimum of 100us" },
                 { 12, "Invalid MaxPause= value '5': a duration needs a unit; write 5us, 5ms or 5s" },
                 { 13, "Invalid MaxPause= value '2.5': a duration needs a unit; write 2.5us, 2.5ms or 2.5s" });
        TEST_BAD("bad/limits.conf",
                 { 4, "Invalid MaxLocked= value '-1G': a size cannot be negative" },
                 { 5, "Invalid MaxLocked= value '17179869184G': out of range" },
                 { 6, "Invalid MaxLocked= value '2X': expected a size" },
                 { 7, "Invalid CgroupMaxUnevictable= value '1.5': expected a size" },
                 { 8, "Invalid CgroupMaxUnevictable= value '-0': a size cannot be negative" },
                 { 9, "Invalid CgroupMaxUnevictable= value '99999999999999999999': out of range" });
        TEST_BAD("bad/syntax.conf",
                 { 1, "Name= appears before any [SECTION] line" },
                 { 4, "Malformed section header" },
                 { 6, "Unknown section [Bogus]" },
                 { 9, "Unknown key Foo= in section [Lock]" },
                 { 10, "Malformed line, expected KEY=VALUE" },
                 { 11, "missing a key before '='" },
                 { 12, "invalid key name 'Na:me'" },
                 { 13, "Inline comments are not supported" },
                 { 14, "Unknown section [Daemon] ([Daemon] belongs in mlockd.conf)" },
                 { 17, "Malformed line, expected KEY=VALUE" },
                 { 18, "Line too long (214 characters, at most 197)" });
        TEST_BAD("bad/nomatch.conf", { 1, "No [Match] key: this policy would match every process" });
        TEST_BAD("bad/empty.conf", { 1, "No [Match] key" });
        TEST_BAD("bad/binary-nul.conf", { 3, "Binary junk" });
        TEST_BAD("bad/binary-utf8.conf", { 2, "Binary junk" });
        TEST_BAD("bad/binary-overlong.conf", { 3, "Binary junk" });
        TEST_BAD("bad/binary-control.conf", { 2, "Binary junk" });
}

static void test_bad_name(void) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **problems = NULL;
        static const Expect e[] = { { 1, "Invalid policy name 'my policy'" } };

        ASSERT_ERROR(policy_parse_string("my policy", "x.conf", "[Match]\nName=x\n", NULL, &p, &problems), EINVAL);
        ASSERT_NULL(p);
        assert_problems(problems, "x.conf", e, ELEMENTSOF(e));
}

static void test_daemon_bad(void) {
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_free_ char *buf = NULL;
        const char *path = fixture("bad/daemon.conf");
        static const Expect e[] = {
                { 2, "Invalid ScanInterval= value 'often'" },
                { 3, "Invalid AccountingInterval= value '0': must be greater than 0" },
                { 4, "Invalid DefaultMaxPause= value '50us': below the minimum of 100us" },
                { 5, "Invalid MetricsFile= value 'metrics.prom': must be an absolute path" },
                { 6, "Invalid CgroupLimitMargin= value '-64M': a size cannot be negative" },
                { 7, "Invalid LogLevel= value 'verbose'" },
                { 8, "Unknown key Bogus= in section [Daemon]" },
                { 9, "Unknown section [Match]" },
        };
        DaemonConfig c;
        size_t size;

        ASSERT_OK(read_full_file(path, 1 << 20, &buf, &size));
        daemon_config_init(&c);
        ASSERT_OK(daemon_config_parse_buffer(path, buf, size, &c, &problems));
        assert_problems(problems, path, e, ELEMENTSOF(e));
        /* a bad key keeps its default */
        ASSERT_EQ_U64(c.scan_interval, 30 * USEC_PER_SEC);
        ASSERT_EQ_U64(c.accounting_interval, 5 * USEC_PER_SEC);
        ASSERT_EQ_U64(c.default_max_pause, 5 * USEC_PER_MSEC);
        ASSERT_NULL(c.metrics_file);
        ASSERT_EQ_U64(c.cgroup_limit_margin, 64ULL << 20);
        ASSERT_NULL(c.log_level);
        daemon_config_done(&c);
}

static void test_daemon_edge_values(void) {
        _cleanup_strv_free_ char **problems = NULL;
        const char *text = "[Daemon]\nMetricsFile=/a\nMetricsFile=\nLogLevel=info\nLogLevel=\nScanInterval=0\n"
                           "DefaultMaxPause=100us\nCgroupLimitMargin=0\n";
        DaemonConfig c;

        daemon_config_init(&c);
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_NULL(c.metrics_file); /* empty: back to none */
        ASSERT_NULL(c.log_level);
        ASSERT_EQ_U64(c.scan_interval, 0); /* 0 disables the periodic scan */
        ASSERT_EQ_U64(c.default_max_pause, 100);
        ASSERT_EQ_U64(c.cgroup_limit_margin, 0);
        daemon_config_done(&c);
}

static void test_daemon_max_mappings(void) {
        _cleanup_strv_free_ char **problems = NULL;
        const char *text = "[Daemon]\nMaxMappings=-1\nMaxMappings=many\n";
        DaemonConfig c;

        daemon_config_init(&c);
        ASSERT_EQ(c.max_mappings, 20000);
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 2);
        ASSERT_TRUE(strstr(problems[0], "m.conf:2: Invalid MaxMappings= value '-1'"));
        ASSERT_TRUE(strstr(problems[1], "m.conf:3: Invalid MaxMappings= value 'many'"));
        ASSERT_EQ(c.max_mappings, 20000); /* a bad value keeps the default */
        problems = strv_free(problems);
        text = "[Daemon]\nMaxMappings=0\n";
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ(c.max_mappings, 0); /* no bound */
        daemon_config_done(&c);
}

/* Injectors=: auto or 1..POLICY_MAX_INJECTORS; auto is one per CPU, 1 to 4. */
static void test_daemon_injectors(void) {
        _cleanup_strv_free_ char **problems = NULL;
        const char *text = "[Daemon]\nInjectors=0\nInjectors=9\nInjectors=-1\nInjectors=two\n"
                           "Injectors=2 # two\n";
        DaemonConfig c;

        daemon_config_init(&c);
        ASSERT_EQ(c.injectors, 0); /* auto */
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 5);
        ASSERT_STREQ(problems[0], "m.conf:2: Invalid Injectors= value '0': expected auto or 1 to 8");
        ASSERT_STREQ(problems[1], "m.conf:3: Invalid Injectors= value '9': expected auto or 1 to 8");
        ASSERT_STREQ(problems[2], "m.conf:4: Invalid Injectors= value '-1': a count cannot be negative");
        ASSERT_STREQ(problems[3],
                     "m.conf:5: Invalid Injectors= value 'two': expected auto or a whole number");
        ASSERT_TRUE(strstr(problems[4], "m.conf:6: Invalid Injectors= value '2 # two'"));
        ASSERT_TRUE(strstr(problems[4], "'#' starts a comment only at the beginning of a line"));
        ASSERT_EQ(c.injectors, 0); /* a bad value keeps the default */
        ASSERT_EQ(daemon_config_injectors(&c, 0), 1);
        ASSERT_EQ(daemon_config_injectors(&c, 1), 1);
        ASSERT_EQ(daemon_config_injectors(&c, 2), 2);
        ASSERT_EQ(daemon_config_injectors(&c, 3), 3);
        ASSERT_EQ(daemon_config_injectors(&c, 64), POLICY_DEFAULT_MAX_INJECTORS);

        problems = strv_free(problems);
        text = "[Daemon]\nInjectors=8\n";
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ(daemon_config_injectors(&c, 1), 8); /* given: whatever the CPUs */
        text = "[Daemon]\nInjectors=auto\n";
        ASSERT_OK(daemon_config_parse_buffer("m.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ(c.injectors, 0);
        daemon_config_done(&c);
}

static void assert_strv(char **l, const char *const *want) {
        size_t n = 0;

        for (; want[n]; n++) {
                if (!l || !l[n])
                        test_fail("missing \"%s\"", want[n]);
                ASSERT_STREQ(l[n], want[n]);
        }
        ASSERT_EQ(strv_length(l), n);
}
#define ASSERT_STRV(l, ...) assert_strv((l), (const char *const[]){ __VA_ARGS__, NULL })

static void test_good_dir(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        const Policy *p;

        ASSERT_OK(policy_set_load(fixture("good"), NULL, &s));
        STRV_FOREACH(x, s->problems)
                fprintf(stderr, "unexpected: %s\n", *x);
        ASSERT_EQ(strv_length(s->problems), 0);

        /* [Daemon]: every key */
        ASSERT_EQ_U64(s->daemon.scan_interval, 60 * USEC_PER_SEC);
        ASSERT_EQ_U64(s->daemon.accounting_interval, 1500 * USEC_PER_MSEC);
        ASSERT_EQ_U64(s->daemon.default_max_pause, 2 * USEC_PER_MSEC);
        ASSERT_STREQ(s->daemon.metrics_file, "/run/mlockd/metrics.prom");
        ASSERT_EQ_U64(s->daemon.cgroup_limit_margin, 128ULL << 20);
        ASSERT_STREQ(s->daemon.log_level, "debug");
        ASSERT_EQ(s->daemon.injectors, 3);

        /* lexical order; README and .hidden.conf are not policies */
        ASSERT_EQ(s->n_policies, 4);
        ASSERT_STREQ(s->policies[0]->name, "10-database");
        ASSERT_STREQ(s->policies[1]->name, "20-cache");
        ASSERT_STREQ(s->policies[2]->name, "30-defaults");
        ASSERT_STREQ(s->policies[3]->name, "40-crlf");
        for (size_t i = 0; i < s->n_policies; i++)
                ASSERT_EQ(s->policies[i]->index, i);
        ASSERT_NULL(policy_set_find(s, "README"));
        ASSERT_NULL(policy_set_find(s, "nope"));

        /* every policy key, none at its default */
        p = policy_set_find(s, "10-database");
        ASSERT_NOT_NULL(p);
        ASSERT_TRUE(strstr(p->path, "/good/policy.d/10-database.conf"));
        ASSERT_STRV(p->match_executable, "/usr/sbin/postgres", "/usr/lib/postgresql/*/bin/postgres");
        ASSERT_STRV(p->match_name, "postgres", "postmaster");
        ASSERT_STRV(p->match_cgroup, "/system.slice/postgresql*.service");
        ASSERT_STRV(p->match_unit, "postgresql@*.service");
        ASSERT_STRV(p->match_user, "postgres", "113");
        ASSERT_EQ(p->mode, LOCK_MODE_FULL);
        ASSERT_EQ(p->regions, REGION_TEXT | REGION_DATA | REGION_HEAP | REGION_STACK | REGION_FILE);
        ASSERT_STRV(p->region_files, "/var/lib/postgresql/*/base/*", "/usr/lib/x86_64-linux-gnu/*.so*");
        ASSERT_TRUE(p->future);
        ASSERT_FALSE(p->prefetch);
        ASSERT_EQ_U64(p->max_pause, 1500);
        ASSERT_EQ_U64(p->max_locked, 2ULL << 30);
        ASSERT_EQ_U64(p->cgroup_max_unevictable, 8ULL << 30);
        ASSERT_FALSE(p->raise_memlock_limit);

        p = policy_set_find(s, "20-cache");
        ASSERT_NOT_NULL(p);
        ASSERT_STRV(p->match_name, "memcached");
        ASSERT_STRV(p->match_unit, "memcached.service");
        ASSERT_NULL(p->match_executable);
        ASSERT_NULL(p->match_cgroup);
        ASSERT_NULL(p->match_user);
        ASSERT_EQ(p->mode, LOCK_MODE_ONFAULT);
        ASSERT_EQ(p->regions, REGION_ANON);
        ASSERT_NULL(p->region_files);
        ASSERT_EQ_U64(p->max_pause, 250);
        ASSERT_FALSE(p->relock);
        ASSERT_EQ_U64(p->max_locked, 512ULL << 20);

        /* defaults, MaxPause= from [Daemon] DefaultMaxPause= */
        p = policy_set_find(s, "30-defaults");
        ASSERT_NOT_NULL(p);
        ASSERT_STRV(p->match_user, "root");
        ASSERT_EQ(p->mode, LOCK_MODE_ONFAULT);
        ASSERT_EQ(p->regions, REGION_ALL);
        ASSERT_NULL(p->region_files);
        ASSERT_FALSE(p->future);
        ASSERT_TRUE(p->prefetch);
        ASSERT_EQ_U64(p->max_pause, 2 * USEC_PER_MSEC);
        ASSERT_EQ_U64(p->max_locked, 0);
        ASSERT_EQ_U64(p->cgroup_max_unevictable, 0);
        ASSERT_TRUE(p->raise_memlock_limit);
        ASSERT_TRUE(p->relock);

        /* BOM, CRLF, indentation, spaces around '=', both comment kinds, UTF-8, repeated Regions= */
        p = policy_set_find(s, "40-crlf");
        ASSERT_NOT_NULL(p);
        ASSERT_STRV(p->match_name, "audio-engine", "jackd");
        ASSERT_STRV(p->match_executable, "/opt/\xc3\xa9t\xc3\xa9/bin/*");
        ASSERT_EQ(p->mode, LOCK_MODE_NONE);
        ASSERT_EQ(p->regions, REGION_HEAP | REGION_STACK);
        ASSERT_EQ_U64(p->max_locked, 1048576);
        ASSERT_EQ_U64(p->cgroup_max_unevictable, 3ULL << 29);
}

/* dump → parse → dump gives the same text, and the same values */
static void test_dump_round_trip(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;

        ASSERT_OK(policy_set_load(fixture("good"), NULL, &s));
        ASSERT_EQ(s->n_policies, 4);
        for (size_t i = 0; i < s->n_policies; i++) {
                _cleanup_(policy_freep) Policy *q = NULL;
                _cleanup_strv_free_ char **problems = NULL;
                _cleanup_free_ char *a = NULL, *b = NULL;
                size_t na = 0, nb = 0;
                FILE *f;

                f = open_memstream(&a, &na);
                ASSERT_NOT_NULL(f);
                ASSERT_OK(policy_dump(s->policies[i], f));
                ASSERT_EQ(fclose(f), 0);
                /* no DaemonConfig: MaxPause= must come from the dump, not from a default */
                ASSERT_OK(policy_parse_string(s->policies[i]->name, "dump.conf", a, NULL, &q, &problems));
                ASSERT_EQ(strv_length(problems), 0);
                ASSERT_EQ_U64(q->max_pause, s->policies[i]->max_pause);
                ASSERT_EQ(q->regions, s->policies[i]->regions);
                ASSERT_EQ(q->relock, s->policies[i]->relock);
                ASSERT_EQ_U64(q->cgroup_max_unevictable, s->policies[i]->cgroup_max_unevictable);
                f = open_memstream(&b, &nb);
                ASSERT_NOT_NULL(f);
                ASSERT_OK(policy_dump(q, f));
                ASSERT_EQ(fclose(f), 0);
                ASSERT_STREQ(a, b);
        }

        {
                _cleanup_strv_free_ char **problems = NULL;
                _cleanup_free_ char *a = NULL, *b = NULL;
                size_t na = 0, nb = 0;
                DaemonConfig c;
                FILE *f;

                f = open_memstream(&a, &na);
                ASSERT_NOT_NULL(f);
                ASSERT_OK(daemon_config_dump(&s->daemon, f));
                ASSERT_EQ(fclose(f), 0);
                ASSERT_TRUE(strstr(a, "AccountingInterval=1.500000s\n"));
                daemon_config_init(&c);
                ASSERT_OK(daemon_config_parse_buffer("d.conf", a, na, &c, &problems));
                ASSERT_EQ(strv_length(problems), 0);
                f = open_memstream(&b, &nb);
                ASSERT_NOT_NULL(f);
                ASSERT_OK(daemon_config_dump(&c, f));
                ASSERT_EQ(fclose(f), 0);
                ASSERT_STREQ(a, b);
                daemon_config_done(&c);
        }
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        ASSERT_NOT_NULL(f);
        fputs(text, f);
        ASSERT_EQ(fclose(f), 0);
}

/* /etc overrides /usr/lib by file name, a symlink to /dev/null masks; the result is sorted across
 * both directories; no mlockd.conf means defaults. */
static void test_vendor_dir(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        char tmp[] = "/tmp/test-policy-XXXXXX", etc[4200], pd[4300], vendor[4200], link[4400];
        const Policy *p;

        ASSERT_NOT_NULL(mkdtemp(tmp));
        snprintf(etc, sizeof etc, "%s/etc", tmp);
        snprintf(pd, sizeof pd, "%s/policy.d", etc);
        snprintf(vendor, sizeof vendor, "%s/vendor", tmp);
        ASSERT_EQ(mkdir(etc, 0755), 0);
        ASSERT_EQ(mkdir(pd, 0755), 0);
        ASSERT_EQ(mkdir(vendor, 0755), 0);
        write_file(pd, "20-db.conf", "[Match]\nName=etc-db\n");
        write_file(vendor, "20-db.conf", "[Match]\nName=vendor-db\n");
        write_file(vendor, "10-first.conf", "[Match]\nName=first\n");
        write_file(vendor, "30-masked.conf", "[Match]\nName=masked\n");
        write_file(vendor, "40-bad.conf", "[Lock]\nMode=full\n");
        snprintf(link, sizeof link, "%s/30-masked.conf", pd);
        ASSERT_EQ(symlink("/dev/null", link), 0);

        ASSERT_OK(policy_set_load(etc, vendor, &s));
        ASSERT_EQ(s->n_policies, 2);
        ASSERT_STREQ(s->policies[0]->name, "10-first");
        ASSERT_EQ(s->policies[0]->index, 0);
        ASSERT_STREQ(s->policies[1]->name, "20-db");
        ASSERT_EQ(s->policies[1]->index, 1);
        p = policy_set_find(s, "20-db");
        ASSERT_STRV(p->match_name, "etc-db");
        ASSERT_NULL(policy_set_find(s, "30-masked"));
        ASSERT_EQ(strv_length(s->problems), 1);
        ASSERT_TRUE(strstr(s->problems[0], "/vendor/40-bad.conf:1: No [Match] key"));
        ASSERT_EQ_U64(s->daemon.default_max_pause, 5 * USEC_PER_MSEC);
        s = policy_set_free(s);

        /* without the vendor dir: only /etc */
        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ(s->n_policies, 1);
        ASSERT_STREQ(s->policies[0]->name, "20-db");
        ASSERT_EQ(strv_length(s->problems), 0);
        s = policy_set_free(s);

        /* a policy.d entry that is not a regular file is a problem, the rest loads */
        snprintf(link, sizeof link, "%s/25-dir.conf", pd);
        ASSERT_EQ(mkdir(link, 0755), 0);
        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ(s->n_policies, 1);
        ASSERT_EQ(strv_length(s->problems), 1);
        ASSERT_TRUE(strstr(s->problems[0], "/policy.d/25-dir.conf:1: Not a regular file"));
        s = policy_set_free(s);
        ASSERT_EQ(rmdir(link), 0);

        /* policy.d not a directory: a problem, mlockd.conf still applies */
        snprintf(link, sizeof link, "%s/etc2", tmp);
        ASSERT_EQ(mkdir(link, 0755), 0);
        write_file(link, "policy.d", "not a directory\n");
        write_file(link, "mlockd.conf", "[Daemon]\nScanInterval=7s\n");
        ASSERT_OK(policy_set_load(link, NULL, &s));
        ASSERT_EQ(s->n_policies, 0);
        ASSERT_EQ_U64(s->daemon.scan_interval, 7 * USEC_PER_SEC);
        ASSERT_EQ(strv_length(s->problems), 1);
        ASSERT_TRUE(strstr(s->problems[0], "/etc2/policy.d:1: Failed to read the directory: Not a directory"));
        s = policy_set_free(s);

        /* missing config dir: the only failure */
        snprintf(link, sizeof link, "%s/nonexistent", tmp);
        ASSERT_ERROR(policy_set_load(link, NULL, &s), ENOENT);
        ASSERT_NULL(s);

        snprintf(link, sizeof link, "rm -rf -- '%s'", tmp);
        ASSERT_EQ(system(link), 0);
}

static void test_lock_mode(void) {
        ASSERT_STREQ(lock_mode_to_string(LOCK_MODE_NONE), "none");
        ASSERT_STREQ(lock_mode_to_string(LOCK_MODE_ONFAULT), "onfault");
        ASSERT_STREQ(lock_mode_to_string(LOCK_MODE_FULL), "full");
        ASSERT_NULL(lock_mode_to_string(_LOCK_MODE_MAX));
        ASSERT_NULL(lock_mode_to_string(_LOCK_MODE_INVALID));
        ASSERT_EQ(lock_mode_from_string("full"), LOCK_MODE_FULL);
        ASSERT_EQ(lock_mode_from_string("onfault"), LOCK_MODE_ONFAULT);
        ASSERT_EQ(lock_mode_from_string("none"), LOCK_MODE_NONE);
        ASSERT_EQ(lock_mode_from_string("Full"), _LOCK_MODE_INVALID);
        ASSERT_EQ(lock_mode_from_string(NULL), _LOCK_MODE_INVALID);
}

/* problems from several parses accumulate in one list, in order */
static void test_problems_accumulate(void) {
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;

        ASSERT_ERROR(policy_parse_string("a", "a.conf", "[Lock]\n", NULL, &p, &problems), EINVAL);
        ASSERT_OK(policy_parse_string("b", "b.conf", "[Match]\nName=b\n", NULL, &p, &problems));
        ASSERT_NOT_NULL(p);
        ASSERT_STREQ(p->name, "b");
        ASSERT_STREQ(p->path, "b.conf");
        ASSERT_EQ(strv_length(problems), 1);
        ASSERT_TRUE(strncmp(problems[0], "a.conf:1: ", 10) == 0);
}

/* The longest line inih takes whole is accepted whole, one more character is an error, never a
 * truncation; ';' not after whitespace is part of the value. */
static void test_line_limit(void) {
        char text[512], glob[256];
        size_t prefix = strlen("Executable=");

        for (size_t len = POLICY_MAX_LINE; len <= POLICY_MAX_LINE + 1; len++) {
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_strv_free_ char **problems = NULL;
                int r;

                memset(glob, 'a', sizeof glob);
                glob[0] = '/';
                glob[len - prefix] = '\0';
                snprintf(text, sizeof text, "[Match]\nName=a;b\nExecutable=%s\n", glob);
                r = policy_parse_string("long", "long.conf", text, NULL, &p, &problems);
                if (len == POLICY_MAX_LINE) {
                        ASSERT_OK(r);
                        ASSERT_STRV(p->match_executable, glob);
                        ASSERT_STRV(p->match_name, "a;b");
                } else {
                        ASSERT_ERROR(r, EINVAL);
                        ASSERT_EQ(strv_length(problems), 1);
                        ASSERT_TRUE(strstr(problems[0], "long.conf:3: Line too long (198 characters, at most 197)"));
                }
        }
}

/* A single-valued key given twice: the last wins, with a warning naming both lines; [Match] keys
 * and Regions= add up and are no duplicates; an empty value resets without a warning. */
static void test_duplicate_keys(void) {
        _cleanup_strv_free_ char **problems = NULL, **warnings = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        const char *text = "[Match]\nName=a\nName=b\n[Lock]\nMode=full\nRegions=anon\nRegions=heap\n"
                           "Mode=onfault\nMaxPause=1ms\n[Limits]\nMaxLocked=1G\n[Lock]\nMaxPause=2ms\n";
        DaemonConfig c;

        ASSERT_OK(policy_parse_buffer_full("dup", "dup.conf", text, strlen(text), NULL, &p, &problems, &warnings));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ(p->mode, LOCK_MODE_ONFAULT);
        ASSERT_EQ_U64(p->max_pause, 2 * USEC_PER_MSEC);
        ASSERT_STRV(p->match_name, "a", "b");
        ASSERT_EQ(strv_length(warnings), 2);
        ASSERT_STREQ(warnings[0], "dup.conf:8: warning: Mode= is given again; it replaces the value from line 5");
        ASSERT_STREQ(warnings[1], "dup.conf:13: warning: MaxPause= is given again; it replaces the value from line 9");
        warnings = strv_free(warnings);

        /* without a warnings list they are dropped, and the result is the same */
        p = policy_free(p);
        ASSERT_OK(policy_parse_string("dup", "dup.conf", text, NULL, &p, &problems));
        ASSERT_EQ(p->mode, LOCK_MODE_ONFAULT);

        text = "[Daemon]\nMetricsFile=/a\nMetricsFile=\nMetricsFile=/b\nScanInterval=1s\nScanInterval=2s\n";
        daemon_config_init(&c);
        ASSERT_OK(daemon_config_parse_buffer_full("d.conf", text, strlen(text), &c, &problems, &warnings));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_STREQ(c.metrics_file, "/b");
        ASSERT_EQ_U64(c.scan_interval, 2 * USEC_PER_SEC);
        ASSERT_EQ(strv_length(warnings), 1);
        ASSERT_STREQ(warnings[0], "d.conf:6: warning: ScanInterval= is given again; it replaces the value from line 5");
        daemon_config_done(&c);
}

/* MaxPause= above the most a step may hold (the injector's deadline) is taken as that, with a
 * warning; the most itself is no warning. */
static void test_max_pause_ceiling(void) {
        _cleanup_strv_free_ char **problems = NULL, **warnings = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        const char *text = "[Match]\nName=a\n[Lock]\nMaxPause=30s\n";
        DaemonConfig c;

        ASSERT_OK(policy_parse_buffer_full("big", "big.conf", text, strlen(text), NULL, &p, &problems, &warnings));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ_U64(p->max_pause, POLICY_MAX_MAX_PAUSE);
        ASSERT_EQ(strv_length(warnings), 1);
        ASSERT_STREQ(warnings[0], "big.conf:4: warning: MaxPause=30s is above the most a step may hold a target, 2s: 2s is used");
        warnings = strv_free(warnings);
        p = policy_free(p);

        text = "[Match]\nName=a\n[Lock]\nMaxPause=2s\n";
        ASSERT_OK(policy_parse_buffer_full("two", "two.conf", text, strlen(text), NULL, &p, &problems, &warnings));
        ASSERT_EQ_U64(p->max_pause, 2 * USEC_PER_SEC);
        ASSERT_EQ(strv_length(warnings), 0);

        text = "[Daemon]\nDefaultMaxPause=1min\n";
        daemon_config_init(&c);
        ASSERT_OK(daemon_config_parse_buffer_full("d.conf", text, strlen(text), &c, &problems, &warnings));
        ASSERT_EQ(strv_length(problems), 0);
        ASSERT_EQ_U64(c.default_max_pause, POLICY_MAX_MAX_PAUSE);
        ASSERT_EQ(strv_length(warnings), 1);
        ASSERT_STREQ(warnings[0], "d.conf:2: warning: DefaultMaxPause=1min is above the most a step may hold a target, 2s: 2s is used");
        daemon_config_done(&c);
}

/* Durations: a bare 0 is fine everywhere (ScanInterval=0 disables), any other bare number is refused. */
static void test_unitless_durations(void) {
        _cleanup_strv_free_ char **problems = NULL;
        const char *text = "[Daemon]\nScanInterval=0\nAccountingInterval=5\nDefaultMaxPause=300\n";
        DaemonConfig c;

        daemon_config_init(&c);
        ASSERT_OK(daemon_config_parse_buffer("d.conf", text, strlen(text), &c, &problems));
        ASSERT_EQ_U64(c.scan_interval, 0);
        ASSERT_EQ_U64(c.accounting_interval, 5 * USEC_PER_SEC); /* kept its default */
        ASSERT_EQ(strv_length(problems), 2);
        ASSERT_STREQ(problems[0], "d.conf:3: Invalid AccountingInterval= value '5': a duration needs a unit; "
                                  "write 5us, 5ms or 5s");
        ASSERT_TRUE(strstr(problems[1], "d.conf:4: Invalid DefaultMaxPause= value '300': a duration needs a unit"));
        daemon_config_done(&c);
}

/* sshd's StrictModes: group- or world-writable files and directories, and files owned by someone
 * other than root or us, are refused with "PATH: reason"; the other files still load. */
static void test_unsafe_files(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        char tmp[] = "/tmp/test-policy-XXXXXX", etc[4200], pd[4300], path[4400];

        ASSERT_NOT_NULL(mkdtemp(tmp));
        ASSERT_EQ(chmod(tmp, 0755), 0);
        snprintf(etc, sizeof etc, "%s/etc", tmp);
        snprintf(pd, sizeof pd, "%s/policy.d", etc);
        ASSERT_EQ(mkdir(etc, 0755), 0);
        ASSERT_EQ(mkdir(pd, 0755), 0);
        write_file(pd, "10-ok.conf", "[Match]\nName=ok\n");
        write_file(pd, "20-world.conf", "[Match]\nName=world\n");
        write_file(pd, "30-group.conf", "[Match]\nName=group\n");
        write_file(etc, "mlockd.conf", "[Daemon]\nScanInterval=7s\n");
        snprintf(path, sizeof path, "%s/20-world.conf", pd);
        ASSERT_EQ(chmod(path, 0666), 0);
        snprintf(path, sizeof path, "%s/30-group.conf", pd);
        ASSERT_EQ(chmod(path, 0620), 0);

        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ(s->n_policies, 1);
        ASSERT_STREQ(s->policies[0]->name, "10-ok");
        ASSERT_EQ_U64(s->daemon.scan_interval, 7 * USEC_PER_SEC);
        ASSERT_EQ(strv_length(s->problems), 2);
        snprintf(path, sizeof path, "%s/20-world.conf: Refusing to read this file: writable by every user "
                 "(mode 0666; chmod go-w it)", pd);
        ASSERT_STREQ(s->problems[0], path);
        ASSERT_TRUE(strstr(s->problems[1], "/30-group.conf: Refusing to read this file: writable by group "));
        ASSERT_TRUE(strstr(s->problems[1], "(mode 0620; chmod go-w it)"));
        s = policy_set_free(s);

        /* an unsafe mlockd.conf: defaults */
        snprintf(path, sizeof path, "%s/mlockd.conf", etc);
        ASSERT_EQ(chmod(path, 0646), 0);
        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ_U64(s->daemon.scan_interval, 30 * USEC_PER_SEC);
        ASSERT_EQ(strv_length(s->problems), 3);
        ASSERT_TRUE(strstr(s->problems[0], "/mlockd.conf: Refusing to read this file: writable by every user"));
        ASSERT_EQ(chmod(path, 0644), 0);
        s = policy_set_free(s);

        /* a writable policy.d: none of its files */
        ASSERT_EQ(chmod(pd, 0777), 0);
        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ(s->n_policies, 0);
        ASSERT_EQ(strv_length(s->problems), 1);
        snprintf(path, sizeof path, "%s: Refusing to read this directory: writable by every user (mode 0777; "
                 "chmod go-w it)", pd);
        ASSERT_STREQ(s->problems[0], path);
        ASSERT_EQ(chmod(pd, 0755), 0);
        s = policy_set_free(s);

        /* a writable config directory: nothing at all */
        ASSERT_EQ(chmod(etc, 0775), 0);
        ASSERT_OK(policy_set_load(etc, NULL, &s));
        ASSERT_EQ(s->n_policies, 0);
        ASSERT_EQ(strv_length(s->problems), 1);
        ASSERT_TRUE(strstr(s->problems[0], "/etc: Refusing to read this directory: writable by group"));
        ASSERT_EQ(chmod(etc, 0755), 0);
        s = policy_set_free(s);

        /* owned by another user: only root can make such a file */
        snprintf(path, sizeof path, "%s/10-ok.conf", pd);
        if (geteuid() != 0)
                fprintf(stderr, "skipping the ownership case: not root, cannot give a file away\n");
        else {
                ASSERT_EQ(chown(path, 65534, 65534), 0);
                ASSERT_OK(policy_set_load(etc, NULL, &s));
                ASSERT_EQ(s->n_policies, 0);
                ASSERT_TRUE(strstr(s->problems[0], "/10-ok.conf: Refusing to read this file: owned by uid 65534, "
                                   "not by root (chown root: it)"));
                s = policy_set_free(s);
        }

        snprintf(path, sizeof path, "rm -rf -- '%s'", tmp);
        ASSERT_EQ(system(path), 0);
}

int main(void) {
        umask(022); /* the fixtures made here must be safe by default */
        test_duplicate_keys();
        test_max_pause_ceiling();
        test_unitless_durations();
        test_unsafe_files();
        test_lock_mode();
        test_bad_fixtures();
        test_bad_name();
        test_daemon_bad();
        test_daemon_edge_values();
        test_daemon_max_mappings();
        test_daemon_injectors();
        test_good_dir();
        test_dump_round_trip();
        test_vendor_dir();
        test_problems_accumulate();
        test_line_limit();
        return 0;
}
