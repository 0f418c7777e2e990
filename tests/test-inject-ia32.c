/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Injection into an ia32 (compat) process on x86_64: "int $0x80" with the i386 syscall numbers.
 * The 32-bit victim is compiled here with "cc -m32"; skipped (77) when that fails or when the
 * kernel cannot exec it (ENOEXEC without CONFIG_IA32_EMULATION). */
#include <sys/mman.h>

#include "test-inject-util.h"

static const char victim32[] =
        "#include <stdio.h>\n"
        "#include <string.h>\n"
        "#include <sys/mman.h>\n"
        "#include <unistd.h>\n"
        "int main(void) {\n"
        "        char *p = mmap(0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
        "        memset(p, 1, 4 << 20);\n"
        "        setvbuf(stdout, 0, _IOLBF, 0);\n"
        "        printf(\"ready pid=%d anon=%lx size=%u\\n\", (int) getpid(), (unsigned long) p, 16u << 20);\n"
        "        for (;;) pause();\n"
        "}\n";

int main(void) {
#if defined(__x86_64__)
        char dir[] = "/tmp/test-inject-ia32.XXXXXX", src[128], bin[128], cmd[512], line[256];
        uint64_t args[6] = {};
        Tracee *t;
        Child c = {};
        long r;
        FILE *f;
        int in[2], out[2];

        if (!memlock_allows(16 << 20))   /* victim32's mapping */
                return EXIT_TEST_SKIP;
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(src, sizeof src, "%s/v.c", dir);
        snprintf(bin, sizeof bin, "%s/v", dir);
        f = fopen(src, "we");
        ASSERT_NOT_NULL(f);
        fputs(victim32, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "${CC:-cc} -m32 -O1 -o %s %s >/dev/null 2>&1", bin, src);
        if (system(cmd) != 0) {
                fprintf(stderr, "cc -m32 does not work here, skipping\n");
                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                (void) system(cmd);
                return EXIT_TEST_SKIP;
        }

        ASSERT_TRUE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
        c.pid = fork();
        ASSERT_TRUE(c.pid >= 0);
        if (c.pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execl(bin, "victim32", (char *) NULL);
                _exit(errno == ENOEXEC ? 126 : 127);
        }
        close(in[0]);
        close(out[1]);
        c.in_fd = in[1];
        c.out_fd = out[0];
        if (!child_line(&c, 30000, line, sizeof line)) {
                int status = child_wait(&c);

                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                (void) system(cmd);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
                        fprintf(stderr, "the kernel cannot exec ia32 binaries (ENOEXEC), skipping\n");
                        return EXIT_TEST_SKIP;
                }
                test_fail("32-bit victim did not start");
        }
        ASSERT_EQ(sscanf(line, "ready pid=%*d anon=%" SCNx64 " size=%" SCNu64, &c.anon, &c.size), 2);

        for (unsigned i = 0; i < 100; i++) {
                ASSERT_OK(inject_attach(c.pid, -1, 0, 10 * USEC_PER_SEC, &t));
                /* getpid takes no argument: all six registers are zero, not the previous
                 * round's oversized length, which the compat ABI rightly refuses */
                memset(args, 0, sizeof args);
                ASSERT_OK(inject_call(t, INJECT_GETPID, args, &r));
                ASSERT_EQ(r, c.pid);
                memcpy(args, (uint64_t[6]) { c.anon, c.size, 1 }, sizeof args);
                ASSERT_OK(inject_call(t, i % 2 ? INJECT_MUNLOCK : INJECT_MLOCK2, args, &r));
                ASSERT_EQ(r, 0);
                /* a 64-bit argument does not fit the ABI */
                args[1] = UINT64_C(1) << 33;
                ASSERT_ERROR(inject_call(t, INJECT_MLOCK2, args, &r), EOVERFLOW);
                ASSERT_OK(inject_detach(t, NULL));
                ASSERT_EQ(vma_info(c.pid, c.anon).lo, i % 2 == 0);
        }
        ASSERT_EQ(kill(c.pid, SIGUSR1), 0);     /* default action: terminate */
        ASSERT_TRUE(WIFSIGNALED(child_wait(&c)));
        child_done(&c);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) system(cmd);
        return 0;
#else
        return EXIT_TEST_SKIP;
#endif
}
