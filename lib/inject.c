/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "inject-arch.h"
#include "inject.h"
#include "log.h"
#include "macro.h"
#include "procfs.h"
#include "seccomp-check.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

#define PF_EXITING 0x00000004U
#define ABIS_MAX 4
#define VDSO_READ_MAX (64U * 1024U)
#define EXEC_SCAN_MAX (16U * 1024U * 1024U)
/* A hold soon after another of the same process first lets the thread held last get a CPU (be
 * switched in, or have run this long): holds back to back that the target never ran between add
 * up to one long stall. At most RUN_BETWEEN_MAX is waited. */
#define RUN_BETWEEN_NS (50 * 1000)
/* On the tracer's own CPU, run time over the tracer's sleep that says the thread ran its own code,
 * not only the way back from its stop (a few microseconds) */
#define RUN_BETWEEN_HERE_NS (10 * 1000)
#define RUN_BETWEEN_MAX (10 * USEC_PER_MSEC)
#define RUN_BETWEEN_RECENT USEC_PER_SEC
/* Once the target is ours, how long to wait for it to die when it was killed under us. */
#define REAP_TIMEOUT (5 * USEC_PER_SEC)

/* What one process's scan found, and what says it is still that process's image. */
typedef struct InjectSites {
        uint64_t pidfs_ino;             /* the process (pidfs: never reused); 0: a free slot */
        uint64_t exe_dev, exe_ino;      /* its executable: another after an exec */
        uint64_t vdso;                  /* its vdso's address (moves at an exec); 0: none */
        uint64_t insn_addr[ABIS_MAX], insn_ret_addr[ABIS_MAX], restorer_addr[ABIS_MAX];
        bool frame_unsafe;
        uint64_t used;                  /* for eviction: the least recently used goes */
} InjectSites;

/* Where a byte string is in one file mapping (the same in every process that maps that file there),
 * or that it is not there: a C library is scanned once, not once per process. */
#define FILE_FINDS_MAX 64
#define FIND_NONE UINT64_MAX

typedef struct FileFind {
        uint64_t dev, ino, pgoff, len;  /* the mapping: its file, offset and length; ino 0: free */
        const uint8_t *needle;          /* the arch table's bytes */
        uint64_t offset;                /* from the mapping's start; FIND_NONE: not in it */
        uint64_t used;
} FileFind;

/* The last hold of a process: its thread, that thread's schedstat then, and when it was let go. */
#define HOLDS_MAX 16
typedef struct HoldNote {
        uint64_t pidfs_ino;             /* 0: a free slot */
        pid_t tid;
        uint64_t runtime;               /* ns */
        uint64_t timeslices;
        usec_t released;
} HoldNote;

struct InjectCache {
        size_t size;
        uint64_t clock;
        InjectCacheStats stats;
        FileFind finds[FILE_FINDS_MAX];
        HoldNote holds[HOLDS_MAX];      /* the most recent, by released */
        InjectSites sites[];
};

struct Tracee {
        pid_t pid, tid;
        int pidfd;                      /* the process; borrowed unless own_pidfd */
        bool own_pidfd;
        uint64_t pidfs_ino;             /* its pidfs inode, with a cache (0: none, no pidfs) */
        int tidfd;                      /* PIDFD_THREAD of tid */

        uint64_t insn_addr[ABIS_MAX];   /* per ABI; 0: none found */
        uint64_t insn_ret_addr[ABIS_MAX];       /* "syscall; ret", for self-restoring calls */
        uint64_t restorer_addr[ABIS_MAX];       /* rt_sigreturn */
        int seccomp_mode;               /* from the thread's status before seizing */
        InjectCache *cache;             /* the caller's, during inject_attach_cached(), or NULL */
        InjectSites *sites;             /* its entry in the cache, or NULL */
        bool sites_hit;                 /* the addresses came from it, not from a scan */

        bool seized;                    /* a ptrace relation exists */
        bool stopped;                   /* at a ptrace stop, ours to act on */
        bool group_stopped;
        bool regs_dirty;                /* fake registers are live */
        bool mask_blocked;              /* every signal blocked, for the call */
        bool exitkill;                  /* PTRACE_O_EXITKILL on */
        const InjectAbi *abi;
        InjectRegs saved;
        uint64_t sigmask;

        /* the self-restoring frame on the target's stack: built and written at the first call */
        char *maps;                     /* /proc/PID/maps as read before seizing */
        bool frame_unsafe;              /* its stacks may be too small for a frame (Go) */
        bool frame_tried;
        int frame_error;                /* why calls go without it (0: they go with it) */
        InjectFrame frame;
        bool frame_call;                /* the live fake registers run on the frame */

        bool filters_fetched;
        int filters_error;
        SeccompFilters *filters;
        const char *seccomp_action;

        usec_t t_seize, t_stop, t_release;
        ProcSchedstat release_sched;    /* the thread's at the release (runtime 0: unknown) */
        usec_t run_wait;                /* InjectStats */
        bool run_wait_expired;
        const char *run_wait_end;
        usec_t stop_wait, in_calls;     /* InjectStats */
        unsigned calls, frame_calls;
};

static const char *const call_table[_INJECT_CALL_MAX] = {
        [INJECT_MLOCK] = "mlock",
        [INJECT_MLOCK2] = "mlock2",
        [INJECT_MUNLOCK] = "munlock",
        [INJECT_MLOCKALL] = "mlockall",
        [INJECT_MUNLOCKALL] = "munlockall",
        [INJECT_GETPID] = "getpid",
};

const char *inject_call_to_string(InjectCall c) {
        return c >= 0 && c < _INJECT_CALL_MAX ? call_table[c] : NULL;
}

InjectCall inject_call_from_string(const char *s) {
        for (InjectCall c = 0; s && c < _INJECT_CALL_MAX; c++)
                if (streq(call_table[c], s))
                        return c;
        return _INJECT_CALL_INVALID;
}

bool inject_supported(void) {
        size_t n;

        (void) inject_arch_abis(&n);
        return n > 0;
}

static int pidfd_open_flags(pid_t pid, unsigned flags) {
        int fd = (int) syscall(SYS_pidfd_open, pid, flags);

        return fd < 0 ? -errno : fd;
}

/* A pidfd polls readable once its process (or, with PIDFD_THREAD, its thread) has exited. */
static bool pidfd_exited(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return fd >= 0 && poll(&p, 1, 0) > 0;
}

static void sleep_usec(usec_t u) {
        struct timespec ts = { .tv_sec = u / USEC_PER_SEC, .tv_nsec = (long) (u % USEC_PER_SEC) * 1000 };

        (void) nanosleep(&ts, NULL);
}

/* waitpid for tid, bounded by timeout (USEC_INFINITY: block). Spins briefly first: a stop usually
 * follows within microseconds, and the target is held until we reap it. */
static int wait_tid(pid_t tid, usec_t timeout, int *ret_status) {
        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_usec(CLOCK_MONOTONIC) + timeout;
        usec_t nap = 10;

        for (unsigned i = 0;; i++) {
                int status;
                pid_t p;

                p = waitpid(tid, &status, __WALL | (timeout == USEC_INFINITY ? 0 : WNOHANG));
                if (p < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == ECHILD ? -ESRCH : -errno;
                }
                if (p == tid) {
                        *ret_status = status;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                if (i < 200)
                        (void) sched_yield();
                else {
                        sleep_usec(nap);
                        nap = MIN(nap * 2, 1000);
                }
        }
}

/* The tracee was killed under us: collect its exit so its parent can reap it. */
static void tracee_reap(Tracee *t) {
        int status, r;

        for (;;) {
                r = wait_tid(t->tid, REAP_TIMEOUT, &status);
                if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status))
                        break;
                /* still stopping on its way out (a group stop, say): let it go on */
                (void) ptrace(PTRACE_CONT, t->tid, NULL, NULL);
        }
        t->seized = t->stopped = t->regs_dirty = false;
}

/* ---- finding a syscall instruction in the target, reading only ---------------------------- */

static bool scan_for_insn(const uint8_t *buf, size_t n, const InjectAbi *abi, size_t *ret_off) {
        if (abi->insn_align <= 1) {
                const uint8_t *p = memmem(buf, n, abi->insn, abi->insn_len);

                if (!p)
                        return false;
                *ret_off = (size_t) (p - buf);
                return true;
        }
        for (size_t off = 0; off + abi->insn_len <= n; off += abi->insn_align)
                if (memcmp(buf + off, abi->insn, abi->insn_len) == 0) {
                        *ret_off = off;
                        return true;
                }
        return false;
}

/* Read the target's memory with process_vm_readv: a ptrace-mode check (CAP_SYS_PTRACE covers any
 * uid), unlike /proc/PID/mem and /proc/PID/auxv, whose file modes also want CAP_DAC_OVERRIDE for a
 * target of another uid, a capability the injector does not keep. */
static ssize_t read_remote(pid_t pid, uint64_t addr, void *buf, size_t len) {
        struct iovec local = { .iov_base = buf, .iov_len = len };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = len };
        ssize_t n;

        n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        return n;
}

/* The [vdso] mapping's start in the text of /proc/PID/maps; -ENOENT: none. */
static int maps_vdso_base(const char *maps, uint64_t *ret) {
        for (const char *p = maps; p && *p;) {
                const char *eol = strchrnul(p, '\n');
                uint64_t start, end;

                if (eol - p >= 7 && strneq(eol - 6, "[vdso]", 6)) {
                        if (sscanf(p, "%" SCNx64 "-%" SCNx64, &start, &end) != 2)
                                return -EBADMSG;
                        *ret = start;
                        return 0;
                }
                p = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

static int read_maps(Tracee *t);

static int find_in_vdso(Tracee *t, const InjectAbi *abis, size_t n_abis, bool *needed) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t base;
        ssize_t n;
        bool elf64;
        int r;

        r = read_maps(t);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = maps_vdso_base(t->maps, &base);
        if (r < 0)
                return r;
        buf = malloc(VDSO_READ_MAX);
        if (!buf)
                return -ENOMEM;
        n = read_remote(t->pid, base, buf, VDSO_READ_MAX);
        if (n < 0) {
                /* reading across the vdso's end may fail as a whole; one page is enough for its header */
                n = read_remote(t->pid, base, buf, 4096);
                if (n < 0)
                        return (int) n;
        }
        if ((size_t) n < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
                return -ENOEXEC;
        elf64 = buf[EI_CLASS] == ELFCLASS64;

        /* The vdso's class is the task's ABI; other ABIs need no instruction. */
        for (size_t i = 0; i < n_abis; i++) {
                size_t off;

                needed[i] = abis[i].vdso_elf64 == elf64;
                if (needed[i] && scan_for_insn(buf, (size_t) n, &abis[i], &off)) {
                        t->insn_addr[i] = base + off;
                        needed[i] = false;
                }
        }
        return 0;
}

/* Byte strings looked for in the target's executable mappings. */
typedef struct Needle {
        const uint8_t *bytes;
        size_t len, align;
        uint64_t *ret;                  /* the address; 0 until found */
} Needle;

static bool scan_needles(const uint8_t *buf, size_t n, uint64_t base, Needle *needles, size_t n_needles) {
        bool all_found = true;

        for (size_t i = 0; i < n_needles; i++) {
                size_t off;

                if (*needles[i].ret == 0) {
                        const InjectAbi pattern = {
                                .insn = needles[i].bytes, .insn_len = needles[i].len, .insn_align = needles[i].align,
                        };

                        if (scan_for_insn(buf, n, &pattern, &off))
                                *needles[i].ret = base + off;
                }
                all_found = all_found && *needles[i].ret != 0;
        }
        return all_found;
}

/* The C library's text holds the self-restoring gadgets (a syscall wrapper's "syscall; ret", and
 * __restore_rt), near its start: it is scanned first, then every executable mapping in order. */
static bool is_libc(const char *path) {
        const char *b = strrchr(path, '/');

        b = b ? b + 1 : path;
        return strncmp(b, "libc.so", 7) == 0 || strncmp(b, "libc-", 5) == 0 || strncmp(b, "ld-musl-", 8) == 0;
}

/* /proc/PID/maps, read once per attach and kept (the frame's place is checked against it). */
static int read_maps(Tracee *t) {
        _cleanup_free_ char *path = NULL;

        if (t->maps)
                return 0;
        if (asprintf(&path, "/proc/%d/maps", (int) t->pid) < 0)
                return -ENOMEM;
        return read_full_file(path, READ_FULL_MAX_DEFAULT, &t->maps, NULL);
}

static bool all_placed(const Needle *needles, size_t n_needles) {
        for (size_t i = 0; i < n_needles; i++)
                if (*needles[i].ret == 0)
                        return false;
        return true;
}

static FileFind *file_find_lookup(InjectCache *c, const FileFind *key) {
        for (size_t i = 0; c && key->ino != 0 && i < ELEMENTSOF(c->finds); i++) {
                FileFind *f = &c->finds[i];

                if (f->ino == key->ino && f->dev == key->dev && f->pgoff == key->pgoff && f->len == key->len &&
                    f->needle == key->needle) {
                        f->used = ++c->clock;
                        return f;
                }
        }
        return NULL;
}

static void file_find_store(InjectCache *c, const FileFind *key, uint64_t offset) {
        FileFind *slot = NULL;

        if (!c || key->ino == 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(c->finds); i++)
                if (!slot || c->finds[i].used < slot->used)
                        slot = &c->finds[i];
        *slot = *key;
        slot->offset = offset;
        slot->used = ++c->clock;
}

/* Take what the cache knows of this mapping: needles it places, or knows are not there. Returns
 * whether a needle is left to look for in it. */
static bool file_finds_apply(Tracee *t, FileFind *key, uint64_t start, Needle *needles, size_t n_needles) {
        bool left = false;

        for (size_t i = 0; i < n_needles; i++) {
                const FileFind *f;

                if (*needles[i].ret != 0)
                        continue;
                key->needle = needles[i].bytes;
                f = file_find_lookup(t->cache, key);
                if (!f) {
                        left = true;
                        continue;
                }
                t->cache->stats.file_hits++;
                if (f->offset != FIND_NONE)
                        *needles[i].ret = start + f->offset;
        }
        return left;
}

static int find_in_exec_mappings(Tracee *t, Needle *needles, size_t n_needles) {
        _cleanup_free_ uint8_t *buf = NULL;
        const char *maps;
        size_t scanned = 0;
        int r;

        r = read_maps(t);
        if (r < 0)
                return r;
        maps = t->maps;
        buf = malloc(VDSO_READ_MAX);
        if (!buf)
                return -ENOMEM;

        for (unsigned pass = 0; pass < 2; pass++) {
                const char *p = maps;

                while (*p && scanned < EXEC_SCAN_MAX) {
                        const char *eol = strchrnul(p, '\n');
                        char line[4096], perms[5];
                        uint64_t start, end, pgoff = 0, ino = 0, a;
                        unsigned major = 0, minor = 0;
                        bool wanted[3 * ABIS_MAX] = {};
                        FileFind key = {};
                        int pos = 0;

                        snprintf(line, sizeof line, "%.*s", (int) (eol - p), p);
                        p = *eol ? eol + 1 : eol;
                        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n", &start, &end,
                                   perms, &pgoff, &major, &minor, &ino, &pos) < 3)
                                return -EINVAL;
                        if (perms[2] != 'x' || strstr(line + pos, "[vsyscall]"))
                                continue;
                        if (is_libc(line + pos) != (pass == 0))
                                continue;

                        key = (FileFind) { .dev = ((uint64_t) major << 32) | minor, .ino = ino, .pgoff = pgoff,
                                           .len = end - start };
                        if (!file_finds_apply(t, &key, start, needles, n_needles)) {
                                if (all_placed(needles, n_needles))
                                        return 0;
                                continue; /* nothing more to look for in this one */
                        }
                        for (size_t i = 0; i < n_needles && i < ELEMENTSOF(wanted); i++)
                                wanted[i] = *needles[i].ret == 0;

                        for (a = start; a < end && scanned < EXEC_SCAN_MAX;) {
                                size_t want = (size_t) MIN(end - a, (uint64_t) VDSO_READ_MAX);
                                ssize_t n;

                                n = read_remote(t->pid, a, buf, want);
                                if (n <= 0)
                                        break;
                                if (scan_needles(buf, (size_t) n, a, needles, n_needles))
                                        break;
                                /* keep a string cut by the chunk boundary */
                                a += (uint64_t) n > 16 ? (uint64_t) n - 16 : (uint64_t) n;
                                scanned += (size_t) n;
                        }
                        /* what this mapping holds, for the next process that maps it: known only
                         * for those found, or when it was read to its end */
                        for (size_t i = 0; i < n_needles && i < ELEMENTSOF(wanted); i++) {
                                if (!wanted[i])
                                        continue;
                                key.needle = needles[i].bytes;
                                if (*needles[i].ret != 0)
                                        file_find_store(t->cache, &key, *needles[i].ret - start);
                                else if (a >= end)
                                        file_find_store(t->cache, &key, FIND_NONE);
                        }
                        if (all_placed(needles, n_needles))
                                return 0;
                }
        }
        return 0;
}

static int find_syscall_insns(Tracee *t) {
        Needle needles[3 * ABIS_MAX];
        bool needed[ABIS_MAX];
        const InjectAbi *abis;
        size_t n, n_needles = 0;
        int r;

        abis = inject_arch_abis(&n);
        if (n == 0 || n > ABIS_MAX)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < n; i++)
                needed[i] = true;

        r = find_in_vdso(t, abis, n, needed);
        if (r < 0)
                log_debug_errno(r, "No vdso in %d, scanning executable mappings: %m", (int) t->pid);
        for (size_t i = 0; i < n; i++) {
                /* a vdso of the other class: the task cannot be of this ABI */
                if (r >= 0 && !needed[i] && t->insn_addr[i] == 0)
                        continue;
                if (needed[i])
                        needles[n_needles++] = (Needle) { abis[i].insn, abis[i].insn_len, abis[i].insn_align,
                                                          &t->insn_addr[i] };
                if (t->frame_unsafe)
                        continue;       /* no frame: no gadgets to look for */
                if (abis[i].insn_ret)
                        needles[n_needles++] = (Needle) { abis[i].insn_ret, abis[i].insn_ret_len, 1,
                                                          &t->insn_ret_addr[i] };
                if (abis[i].restorer)
                        needles[n_needles++] = (Needle) { abis[i].restorer, abis[i].restorer_len, 1,
                                                          &t->restorer_addr[i] };
        }
        if (n_needles == 0)
                return 0;
        return find_in_exec_mappings(t, needles, n_needles);
}

static bool bytes_at(Tracee *t, uint64_t addr, const uint8_t *bytes, size_t len) {
        uint8_t b[16];
        ssize_t n;

        if (addr == 0 || len > sizeof b)
                return false;
        n = read_remote(t->pid, addr, b, len);
        return n == (ssize_t) len && memcmp(b, bytes, len) == 0;
}

/* The instruction is still there, in the stopped target's current image: had it exec'd since we
 * looked, the vdso would have moved or the bytes would differ. Gadgets that moved are forgotten:
 * calls then go without a frame. With addresses from the cache, any difference makes the entry
 * stale: -ESTALE, and the attach starts again with a scan. */
static int verify_insn(Tracee *t, size_t abi_index) {
        bool moved = false;
        int r = 0;

        if (t->insn_addr[abi_index] == 0)
                r = -ENOEXEC;
        else if (!bytes_at(t, t->insn_addr[abi_index], t->abi->insn, t->abi->insn_len))
                r = -ESRCH;
        if (r >= 0 && t->abi->insn_ret && t->insn_ret_addr[abi_index] != 0 &&
            !bytes_at(t, t->insn_ret_addr[abi_index], t->abi->insn_ret, t->abi->insn_ret_len)) {
                t->insn_ret_addr[abi_index] = 0;
                moved = true;
        }
        if (r >= 0 && t->abi->restorer && t->restorer_addr[abi_index] != 0 &&
            !bytes_at(t, t->restorer_addr[abi_index], t->abi->restorer, t->abi->restorer_len)) {
                t->restorer_addr[abi_index] = 0;
                moved = true;
        }
        if (t->cache && (r == -ESRCH || moved))
                /* bytes found in a file's mapping are no longer there: the file changed */
                memset(t->cache->finds, 0, sizeof t->cache->finds);
        if (t->sites && (r < 0 || moved)) {
                *t->sites = (InjectSites) {};
                t->sites = NULL;
                if (t->sites_hit)
                        return -ESTALE;
        }
        return r;
}

/* Go runs goroutines on small stacks of its own and takes every signal on an alternate stack, so
 * the space below a goroutine's stack pointer may be another goroutine's. Its executables carry a
 * .go.buildinfo section (and .note.go.buildid), kept by strip. Only the main executable is read. */
static bool exe_is_go(pid_t pid) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ Elf64_Shdr *sh = NULL;
        _cleanup_free_ char *names = NULL;
        char path[64];
        Elf64_Ehdr eh;
        size_t size;

        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t) sizeof eh)
                return false;
        if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
            eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096 ||
            eh.e_shstrndx >= eh.e_shnum)
                return false;
        sh = calloc(eh.e_shnum, sizeof(Elf64_Shdr));
        if (!sh || pread(fd, sh, eh.e_shnum * sizeof(Elf64_Shdr), (off_t) eh.e_shoff) !=
                           (ssize_t) (eh.e_shnum * sizeof(Elf64_Shdr)))
                return false;
        size = (size_t) MIN(sh[eh.e_shstrndx].sh_size, (uint64_t) 65536);
        names = calloc(1, size + 1);
        if (!names || pread(fd, names, size, (off_t) sh[eh.e_shstrndx].sh_offset) != (ssize_t) size)
                return false;
        return memmem(names, size, ".go.buildinfo", 13) || memmem(names, size, ".note.go.buildid", 16);
}

/* ---- pre-flight --------------------------------------------------------------------------- */

int inject_precheck(const char *proc_root, pid_t pid, bool allow_pid1, const char **ret_reason) {
        _cleanup_free_ pid_t *tids = NULL;
        pid_t leader = pid, *list;
        ProcStat st = {};
        const char *reason = NULL;
        size_t n = 1;
        int r;

        if (!proc_root || !ret_reason || pid <= 0)
                return -EINVAL;

        if (pid == getpid()) {
                *ret_reason = "self";
                return -EPERM;
        }
        if (pid == 1 && !allow_pid1) {
                *ret_reason = "pid1";
                return -EPERM;
        }

        r = procfs_read_stat(proc_root, pid, &st);
        if (r < 0) {
                *ret_reason = "gone";
                return r == -ENOENT ? -ESRCH : r;
        }
        if (proc_stat_is_kernel_thread(&st))
                reason = "kernel", r = -EPERM;
        else if (st.state == 'Z' || st.state == 'X')
                reason = "zombie", r = -ESRCH;
        else if (st.flags & PF_EXITING)
                reason = "exiting", r = -ESRCH;
        proc_stat_done(&st);
        if (reason) {
                *ret_reason = reason;
                return r;
        }

        /* Every thread: a debugger usually holds all of them, and we must not race one. The
         * leader alone (a zombie leader was refused above) needs no listing. */
        if (st.threads == 1)
                list = &leader;
        else {
                r = procfs_list_threads(proc_root, pid, &tids, &n);
                if (r < 0) {
                        *ret_reason = "gone";
                        return r == -ENOENT ? -ESRCH : r;
                }
                list = tids;
        }
        for (size_t i = 0; i < n; i++) {
                ProcStatus s;

                r = procfs_read_status(proc_root, pid, list[i], &s);
                if (r == -ENOENT && list[i] != pid)
                        continue;               /* a thread that just ended */
                if (r < 0) {
                        /* the leader's entry stays while the process does */
                        *ret_reason = "gone";
                        return r == -ENOENT ? -ESRCH : r;
                }
                if (s.tracer_pid != 0) {
                        *ret_reason = "traced";
                        return -EBUSY;
                }
        }
        return 0;
}

/* ---- the caller's cache of what scans found ---------------------------------------------- */

int inject_cache_new(size_t size, InjectCache **ret) {
        InjectCache *c;

        if (size == 0 || !ret)
                return -EINVAL;
        c = calloc(1, sizeof *c + size * sizeof c->sites[0]);
        if (!c)
                return -ENOMEM;
        c->size = size;
        *ret = c;
        return 0;
}

InjectCache *inject_cache_free(InjectCache *c) {
        free(c);
        return NULL;
}

void inject_cache_stats(const InjectCache *c, InjectCacheStats *ret) {
        *ret = c ? c->stats : (InjectCacheStats) {};
}

/* What names this process and its current image: the pidfd's pidfs inode (unique while the system
 * runs; older kernels' anonymous pidfds share one: -EOPNOTSUPP, nothing is cached), the
 * executable's inode and the vdso's address. Reads maps into t (the scan and the frame use it). */
static int sites_key(Tracee *t, InjectSites *ret) {
        struct stat st;
        char path[64];
        int r;

        if (t->pidfs_ino == 0)
                return -EOPNOTSUPP;
        *ret = (InjectSites) { .pidfs_ino = t->pidfs_ino };
        snprintf(path, sizeof path, "/proc/%d/exe", (int) t->pid);
        if (stat(path, &st) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        ret->exe_dev = (uint64_t) st.st_dev;
        ret->exe_ino = (uint64_t) st.st_ino;
        r = read_maps(t);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = maps_vdso_base(t->maps, &ret->vdso);
        return r == -ENOENT ? 0 : r;
}

/* The scan's findings, from an entry to a tracee or back. */
static void sites_copy(InjectSites *e, Tracee *t, bool to_tracee) {
        uint64_t *from[3] = { e->insn_addr, e->insn_ret_addr, e->restorer_addr };
        uint64_t *to[3] = { t->insn_addr, t->insn_ret_addr, t->restorer_addr };

        for (size_t k = 0; k < 3; k++)
                memcpy(to_tracee ? to[k] : from[k], to_tracee ? from[k] : to[k], sizeof e->insn_addr);
        if (to_tracee)
                t->frame_unsafe = e->frame_unsafe;
        else
                e->frame_unsafe = t->frame_unsafe;
}

/* The addresses: from the cache when this process's image was scanned before, else by a scan,
 * kept in the cache (the least recently used entry makes room). */
static int find_sites(Tracee *t, InjectCache *cache) {
        InjectSites key, *slot = NULL;
        int r;

        if (cache && sites_key(t, &key) >= 0) {
                for (size_t i = 0; i < cache->size; i++) {
                        InjectSites *e = &cache->sites[i];

                        if (e->pidfs_ino == key.pidfs_ino && e->exe_dev == key.exe_dev &&
                            e->exe_ino == key.exe_ino && e->vdso == key.vdso) {
                                sites_copy(e, t, true);
                                e->used = ++cache->clock;
                                t->sites = e;
                                t->sites_hit = true;
                                cache->stats.hits++;
                                return 0;
                        }
                        if (!slot || e->used < slot->used)
                                slot = e;
                }
                cache->stats.misses++;
        }

        t->frame_unsafe = exe_is_go(t->pid);
        r = find_syscall_insns(t);
        if (r < 0 || !slot)
                return r;
        *slot = key;
        sites_copy(slot, t, false);
        slot->used = ++cache->clock;
        t->sites = slot;
        return 0;
}

/* ---- attach ------------------------------------------------------------------------------- */

static int thread_rank(char state) {
        switch (state) {
        case 'S': return 0;     /* sleeping: stops at once, and the work it waits for is not delayed */
        case 'R': return 1;
        case 'T': case 't': return 2;
        case 'D': return 3;     /* stops only when it wakes */
        default: return -1;     /* Z, X: no */
        }
}

static int choose_thread(Tracee *t, pid_t tid, ProcStatus *ret_status) {
        _cleanup_free_ pid_t *tids = NULL;
        ProcStatus best_status = {};
        pid_t best = 0;
        int best_rank = 99;
        size_t n = 0;
        int r;

        if (tid > 0) {
                r = procfs_read_status("/proc", t->pid, tid, ret_status);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
                if (ret_status->tgid != t->pid)
                        return -ESRCH;
                return tid;
        }

        r = procfs_list_threads("/proc", t->pid, &tids, &n);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        for (size_t i = 0; i < n; i++) {
                ProcStatus s;
                int rank;

                r = procfs_read_status("/proc", t->pid, tids[i], &s);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (s.tracer_pid != 0)
                        return -EBUSY;
                rank = thread_rank(s.state);
                if (rank >= 0 && rank < best_rank) {
                        best = tids[i];
                        best_rank = rank;
                        best_status = s;
                        if (rank == 0)
                                break;
                }
        }
        if (best == 0)
                return -ESRCH;
        *ret_status = best_status;
        return best;
}

/* A thread in D state does not stop until it wakes: wait for it to leave D before seizing, so a
 * timeout leaves the target untouched. */
static int wait_not_uninterruptible(Tracee *t, ProcStatus *s, usec_t timeout) {
        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_usec(CLOCK_MONOTONIC) + timeout;
        int r;

        while (s->state == 'D') {
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(1000);
                r = procfs_read_status("/proc", t->pid, t->tid, s);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
        }
        if (s->state == 'Z' || s->state == 'X')
                return -ESRCH;
        if (s->tracer_pid != 0)
                return -EBUSY;
        return 0;
}

/* Wait for the PTRACE_INTERRUPT stop (sent at t_interrupt), passing signals that come first
 * through. The wait blocks: the target is held from the moment it stops, and a poll would add
 * its granularity to every hold. Seized with a trap pending, a thread that does not stop in time
 * will stop when it wakes, and only a tracer can let it go, so it is waited for in any case and
 * released by the caller; the timeout only decides that it is reported (-ETIMEDOUT). */
static int wait_interrupt_stop(Tracee *t, usec_t t_interrupt, usec_t timeout) {
        int status, r;

        for (;;) {
                r = wait_tid(t->tid, USEC_INFINITY, &status);
                if (r < 0)
                        return r;
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        t->seized = false;
                        return -ESRCH;
                }
                if (!WIFSTOPPED(status))
                        continue;

                if (status >> 16 == PTRACE_EVENT_STOP) {
                        bool late = timeout != USEC_INFINITY &&
                                    now_usec(CLOCK_MONOTONIC) - t_interrupt > timeout;

                        t->stopped = true;
                        t->stop_wait = now_usec(CLOCK_MONOTONIC) - t_interrupt;
                        /* held from the interrupt: a running thread stops within microseconds of
                         * it, and a sleeping one at once (a thread in D was waited out before) */
                        t->t_stop = t_interrupt;
                        /* the stop signal, not SIGTRAP: the target is in group-stop and stays so */
                        t->group_stopped = WSTOPSIG(status) != SIGTRAP;
                        if (late)
                                log_debug("Thread %d did not stop in time; releasing it.", (int) t->tid);
                        return late ? -ETIMEDOUT : 0;
                }
                if (status >> 16 != 0) {
                        /* an event we did not ask for: carry on */
                        if (ptrace(PTRACE_CONT, t->tid, NULL, NULL) < 0)
                                return -errno;
                        continue;
                }
                /* a signal-delivery-stop before our trap: deliver the signal as if we were not here */
                if (ptrace(PTRACE_CONT, t->tid, NULL, (void *) (long) WSTOPSIG(status)) < 0)
                        return -errno;
        }
}

static Tracee *tracee_free(Tracee *t) {
        if (!t)
                return NULL;
        if (t->own_pidfd)
                safe_close(t->pidfd);
        safe_close(t->tidfd);
        seccomp_filters_free(t->filters);
        free(t->frame.buf);
        free(t->maps);
        free(t);
        return NULL;
}

/* Back to the saved state at a stop: the mask first, then the registers (until they are back, a
 * vanished tracer leaves the target to its frame, or to EXITKILL), then EXITKILL off. */
static int restore_state(Tracee *t) {
        int r;

        if (t->mask_blocked) {
                if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *) sizeof(t->sigmask), &t->sigmask) < 0)
                        return -errno;
                t->mask_blocked = false;
        }
        if (t->regs_dirty) {
                r = inject_arch_restore(t->tid, &t->saved);
                if (r < 0)
                        return r;
                t->regs_dirty = t->frame_call = false;
        }
        if (t->exitkill) {
                if (ptrace(PTRACE_SETOPTIONS, t->tid, NULL, (void *) (long) PTRACE_O_TRACESYSGOOD) < 0)
                        return -errno;
                t->exitkill = false;
        }
        return 0;
}

static int tracee_release(Tracee *t) {
        int r = 0;

        if (!t->seized)
                return 0;
        if (!t->stopped) {
                /* Only reached if the target died under us while running. */
                tracee_reap(t);
                return -ESRCH;
        }

        r = restore_state(t);
        if (r < 0 && r != -ESRCH && t->regs_dirty && !t->frame_call) {
                /* Never let it run on the fake registers: that is what EXITKILL is for, and what we
                 * do here by hand. Not seen in practice. (On a frame, it restores itself.) */
                (void) syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
                tracee_reap(t);
                return r;
        }
        /* what the next hold waits for: this thread's run time while it cannot run */
        if (procfs_read_schedstat("/proc", t->pid, t->tid, &t->release_sched) < 0)
                t->release_sched = (ProcSchedstat) {};
        /* the end of the hold: taken before the detach, since the target it wakes may preempt us
         * before the call returns (a busy target on our CPU: a whole time slice) */
        t->t_release = now_usec(CLOCK_MONOTONIC);
        if (ptrace(PTRACE_DETACH, t->tid, NULL, NULL) < 0)
                r = -errno;
        if (r == -ESRCH) {
                tracee_reap(t);
                return -ESRCH;
        }
        t->seized = t->stopped = false;
        return r;
}

static void tracee_abort(Tracee **t) {
        if (!*t)
                return;
        (void) tracee_release(*t);
        *t = tracee_free(*t);
}

/* Whether tid, the process's only thread, waits for the CPU this thread runs on. There its run
 * time is brought up to date whenever it is switched out; on another CPU it lags until that CPU's
 * tick. */
static bool waits_on_our_cpu(pid_t pid, pid_t tid) {
        ProcStat st = {};
        int cpu = sched_getcpu();
        bool ours;

        if (tid != pid || cpu < 0 || procfs_read_stat("/proc", pid, &st) < 0)
                return false;
        ours = st.threads == 1 && st.processor == cpu;
        proc_stat_done(&st);
        return ours;
}

/* Before holding a process again within a second: the thread held last must have got a CPU since
 * (switched in: its timeslices moved; or run RUN_BETWEEN_NS), or be asleep. Measured (a 384 MiB
 * full lock at MaxPause=5ms, every hold under 5.5 ms): the target's own clock saw one gap of 78 ms
 * spanning 25 holds, released each time without getting to run before the next. The timeslices,
 * not the run time alone: that of a thread running on another CPU moves only at that CPU's next
 * tick (up to 4 ms at HZ=250), and every step waited for it. Bounded: a thread that cannot get a
 * CPU that long is not waited for longer. False when it gave up at that bound. */
static bool ran_since_release(const InjectCache *cache, Tracee *t, usec_t start, const char **ret_end) {
        const HoldNote *h = NULL;
        ProcStatus status;
        ProcSchedstat now;

        *ret_end = "not held lately";
        if (!cache || t->pidfs_ino == 0)
                return true;
        for (size_t i = 0; i < HOLDS_MAX; i++)
                if (cache->holds[i].pidfs_ino == t->pidfs_ino)
                        h = &cache->holds[i];
        if (!h || start - h->released > RUN_BETWEEN_RECENT)
                return true;
        for (usec_t nap = 20;; nap = MIN(nap * 2, 500)) {
                if (procfs_read_schedstat("/proc", t->pid, h->tid, &now) < 0) {
                        *ret_end = "no schedstat";
                        return true;
                }
                if (now.runtime - h->runtime >= RUN_BETWEEN_NS) {
                        *ret_end = "ran";
                        return true;
                }
                /* asleep (or stopped) again: it went back to what it waits for */
                if (procfs_read_status("/proc", t->pid, h->tid, &status) < 0 || status.state != 'R') {
                        *ret_end = "asleep";
                        return true;
                }
                /* switched in since, its run time not brought up to date (on another CPU, until its
                 * tick) or it was put off the CPU again before its own code (seen on ours, 1 hold in
                 * about 1,500): that long more. On another CPU its run time lags, and it has run. On
                 * ours its run time is up to date at every switch, and must have grown over that
                 * sleep by more than the way back from the stop to its own code takes (microseconds):
                 * in a loaded make check another process had the CPU instead, and once the thread
                 * got it only for that way back and was preempted again, its counter unmoved. */
                if (now.timeslices != h->timeslices) {
                        uint64_t seen = now.runtime;

                        sleep_usec(RUN_BETWEEN_NS / NSEC_PER_USEC);
                        if (!waits_on_our_cpu(t->pid, h->tid)) {
                                *ret_end = "ran elsewhere";
                                return true;
                        }
                        if (procfs_read_schedstat("/proc", t->pid, h->tid, &now) < 0) {
                                *ret_end = "no schedstat";
                                return true;
                        }
                        if (now.runtime - seen >= RUN_BETWEEN_HERE_NS) {
                                *ret_end = "ran here";
                                return true;
                        }
                }
                if (now_usec(CLOCK_MONOTONIC) - start >= RUN_BETWEEN_MAX) {
                        log_debug("Thread %d did not get to run since its last hold; holding it again.", (int) h->tid);
                        *ret_end = "bound";
                        return false;
                }
                sleep_usec(nap);
        }
}

static void wait_ran_since_release(const InjectCache *cache, Tracee *t) {
        usec_t start = now_usec(CLOCK_MONOTONIC);

        t->run_wait_expired = !ran_since_release(cache, t, start, &t->run_wait_end);
        t->run_wait = now_usec(CLOCK_MONOTONIC) - start;
}

void inject_cache_note_hold(InjectCache *cache, const InjectStats *stats) {
        HoldNote *slot = NULL;

        if (!cache || !stats || stats->pidfs_ino == 0 || stats->tid <= 0 || stats->release_runtime == 0)
                return;
        for (size_t i = 0; i < HOLDS_MAX; i++) {
                HoldNote *h = &cache->holds[i];

                if (h->pidfs_ino == stats->pidfs_ino) {
                        slot = h;
                        break;
                }
                if (!slot || h->released < slot->released)
                        slot = h;
        }
        *slot = (HoldNote) { .pidfs_ino = stats->pidfs_ino, .tid = stats->tid, .runtime = stats->release_runtime,
                             .timeslices = stats->release_timeslices, .released = now_usec(CLOCK_MONOTONIC) };
}

static int attach_once(pid_t pid, int pidfd, pid_t tid, usec_t timeout, InjectCache *cache, Tracee **ret) {
        _cleanup_(tracee_abort) Tracee *t = NULL;
        usec_t t_interrupt;
        ProcStatus status;
        size_t abi_index;
        const InjectAbi *abis;
        size_t n_abis;
        int r;

        if (pid <= 0 || tid < 0 || !ret)
                return -EINVAL;
        if (!inject_supported())
                return -EOPNOTSUPP;
        if (pid == getpid())
                return -EPERM;

        t = calloc(1, sizeof(Tracee));
        if (!t)
                return -ENOMEM;
        *t = (Tracee) { .pid = pid, .pidfd = pidfd, .tidfd = -EBADF, .cache = cache };
        if (pidfd < 0) {
                r = pidfd_open_flags(pid, 0);
                if (r < 0)
                        return r;
                t->pidfd = r;
                t->own_pidfd = true;
        } else {
                pid_t p;

                /* the caller's pidfd must be this very process */
                r = pidfd_get_pid(pidfd, &p);
                if (r < 0)
                        return r == -EBADF ? -EINVAL : r;
                if (p != pid)
                        return -ESRCH;
        }
        if (pidfd_exited(t->pidfd))
                return -ESRCH;
        /* what names the process in the cache (sites, holds); older kernels have no pidfs */
        if (cache && pidfd_pidfs_inode(t->pidfd, &t->pidfs_ino) < 0)
                t->pidfs_ino = 0;

        r = choose_thread(t, tid, &status);
        if (r < 0)
                return r;
        t->tid = r;
        r = wait_not_uninterruptible(t, &status, timeout);
        if (r < 0)
                return r;
        t->seccomp_mode = status.seccomp;

        r = pidfd_open_flags(t->tid, PIDFD_THREAD);
        if (r == -EINVAL && t->tid == pid)      /* before 6.9: the leader's pidfd is the thread's */
                r = pidfd_open_flags(t->tid, 0);
        if (r < 0)
                return r;
        t->tidfd = r;

        r = find_sites(t, cache);
        if (r < 0)
                return r;

        wait_ran_since_release(cache, t);
        /* Identity pinned: the thread, the process, and its address space. */
        if (pidfd_exited(t->tidfd) || pidfd_exited(t->pidfd))
                return -ESRCH;

        t->t_seize = now_usec(CLOCK_MONOTONIC);
        if (ptrace(PTRACE_SEIZE, t->tid, NULL, (void *) (long) PTRACE_O_TRACESYSGOOD) < 0) {
                r = -errno;
                if (r != -EPERM)
                        return r;
                /* the kernel says EPERM for a thread that is exiting too (its exit_state set) */
                if (pidfd_exited(t->tidfd) || pidfd_exited(t->pidfd) ||
                    procfs_read_status("/proc", pid, t->tid, &status) < 0 || status.state == 'Z' ||
                    status.state == 'X')
                        return -ESRCH;
                return status.tracer_pid != 0 ? -EBUSY : -EPERM;
        }
        t->seized = true;
        t_interrupt = now_usec(CLOCK_MONOTONIC);
        if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0 && errno != ESRCH)
                return -errno;

        r = wait_interrupt_stop(t, t_interrupt, timeout);
        if (r < 0)
                return r;

        /* Registers, ABI and instruction: a task that exec'd since we looked is refused. */
        r = inject_regs_get(t->tid, &t->saved);
        if (r < 0)
                return r;
        r = inject_arch_abi(&t->saved, &t->abi);
        if (r < 0)
                return r;
        abis = inject_arch_abis(&n_abis);
        abi_index = (size_t) (t->abi - abis);
        r = verify_insn(t, abi_index);
        if (r < 0)
                return r;
        if (pidfd_exited(t->pidfd))
                return -ESRCH;

        /* Blocked only while a call runs (inject_call): a tracer that vanishes between calls must
         * not leave the target with every signal blocked. */
        if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *) sizeof(t->sigmask), &t->sigmask) < 0)
                return -errno;

        t->sites = NULL; /* the cache may be gone before the tracee */
        t->cache = NULL;
        *ret = TAKE_PTR(t);
        return 0;
}

int inject_attach_cached(pid_t pid, int pidfd, pid_t tid, usec_t timeout, InjectCache *cache, Tracee **ret) {
        int r;

        r = attach_once(pid, pidfd, tid, timeout, cache, ret);
        if (r == -ESTALE) {
                /* the cached addresses no longer hold (the entry is dropped): detached, look again */
                cache->stats.stale++;
                r = attach_once(pid, pidfd, tid, timeout, cache, ret);
        }
        return r == -ESTALE ? -ESRCH : r;
}

int inject_attach(pid_t pid, int pidfd, pid_t tid, usec_t timeout, Tracee **ret) {
        return inject_attach_cached(pid, pidfd, tid, timeout, NULL, ret);
}

/* ---- calls -------------------------------------------------------------------------------- */

/* Whether the thread's seccomp filters would let this call through. An injected syscall is
 * filtered like any other (ptrace's entry report runs first, seccomp second): ERRNO shows at the
 * exit stop, KILL_PROCESS kills the target after detach with a SIGSYS no tracer can cancel. */
static int seccomp_allows(Tracee *t, long nr, const uint64_t args[6], uint64_t ip, const char **ret_action) {
        struct seccomp_data d = {
                .nr = (int) nr,
                .arch = t->abi->audit_arch,
                .instruction_pointer = ip,
        };
        uint32_t action;
        int r;

        if (!t->filters_fetched) {
                t->filters_error = seccomp_filters_get(t->tid, &t->filters);
                t->filters_fetched = true;
        }
        if (t->filters_error == -EINVAL) {
                /* the kernel says: not in filter mode. Strict mode allows nothing we inject. */
                if (t->seccomp_mode == 1) {
                        *ret_action = "strict";
                        return -EPERM;
                }
                return 0;
        }
        if (t->filters_error < 0) {
                /* filters unreadable (no CAP_SYS_ADMIN, or we are filtered): a filtered or strict
                 * target is never tried */
                if (t->seccomp_mode == 0)
                        return 0;
                *ret_action = t->seccomp_mode == 1 ? "strict" : "unreadable";
                return -EPERM;
        }

        memcpy(d.args, args, sizeof(d.args));
        r = seccomp_filters_evaluate(t->filters, &d, &action);
        if (r < 0) {
                *ret_action = "unreadable";
                return -EPERM;
        }
        if (!seccomp_action_allows(action)) {
                *ret_action = seccomp_action_to_string(action);
                return -EPERM;
        }
        return 0;
}

static int seccomp_precheck(Tracee *t, long nr, const uint64_t args[6], uint64_t insn_addr) {
        return seccomp_allows(t, nr, args, insn_addr + t->abi->insn_len, &t->seccomp_action);
}

/* The frame goes only where a signal frame would go: into the mapping that holds the stack
 * pointer, a private, writable, anonymous one or [stack], never across its lower end. */
static bool frame_fits_stack(const char *maps, uint64_t addr, uint64_t sp) {
        const char *p = maps;

        while (p && *p) {
                const char *eol = strchrnul(p, '\n'), *name;
                char line[4096], perms[5];
                uint64_t start, end;
                int pos = 0;

                snprintf(line, sizeof line, "%.*s", (int) (eol - p), p);
                p = *eol ? eol + 1 : eol;
                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s%n", &start, &end, perms, &pos) < 3)
                        return false;
                if (!(start <= addr && addr < end))
                        continue;
                name = line + pos;
                name += strspn(name, " ");
                return sp <= end && perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' &&
                       (*name == '\0' || streq(name, "[stack]"));
        }
        return false;
}

static ssize_t write_remote(pid_t pid, uint64_t addr, const void *buf, size_t len) {
        struct iovec local = { .iov_base = (void *) buf, .iov_len = len };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = len };
        ssize_t n;

        n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
        if (n < 0)
                return -errno;
        return n;
}

/* Self-restoring calls. The call runs at a "syscall; ret" found in the target, with the stack
 * pointer at a signal frame written below the red zone: its first word is the address of an
 * rt_sigreturn (a libc's __restore_rt), then the saved registers (with the kernel's restart
 * adjustment), the signal mask and the FPU/xstate. While we are there, the call ends at its exit
 * stop and the saved registers go back as before: the frame is never used. If we vanish (SIGKILL,
 * a crash), the kernel detaches the target, which finishes the call, returns into rt_sigreturn
 * and resumes exactly where it was, with its own mask. So no PTRACE_O_EXITKILL. Without the
 * gadgets, with a shadow stack, a stack we cannot write, or a seccomp filter that refuses
 * rt_sigreturn, calls go the old way: EXITKILL while the fake registers are live. */
static int frame_prepare(Tracee *t, size_t abi_index) {
        uint64_t ret_addr = t->insn_ret_addr[abi_index], restorer = t->restorer_addr[abi_index];
        const char *action = NULL;
        ssize_t n;
        int r;

        if (t->frame_tried)
                return t->frame_error;
        t->frame_tried = true;
        t->frame_error = -EOPNOTSUPP;

        if (ret_addr == 0 || restorer == 0 || t->abi->nr_sigreturn <= 0 || t->frame_unsafe)
                return t->frame_error;
        /* rt_sigreturn must pass the thread's filter like the call itself */
        r = seccomp_allows(t, t->abi->nr_sigreturn, (const uint64_t[6]) {}, restorer + t->abi->restorer_len, &action);
        if (r < 0) {
                log_debug("seccomp of %d: rt_sigreturn %s, calls without a frame.", (int) t->tid, action);
                return t->frame_error = r;
        }
        r = inject_arch_frame_build(t->tid, t->abi, &t->saved, t->sigmask, restorer, &t->frame);
        if (r < 0)
                return t->frame_error = r;
        if (!frame_fits_stack(t->maps, t->frame.addr, t->frame.sp)) {
                log_debug("No room for a frame under %d's stack pointer, calls without one.", (int) t->tid);
                return t->frame_error = -EOPNOTSUPP;
        }
        n = write_remote(t->pid, t->frame.addr, t->frame.buf, t->frame.size);
        if (n != (ssize_t) t->frame.size) {
                log_debug("Cannot write a frame into %d's stack: %s", (int) t->tid,
                          n < 0 ? strerror((int) -n) : "short write");
                return t->frame_error = n < 0 ? (int) n : -EIO;
        }
        return t->frame_error = 0;
}

int inject_call(Tracee *t, InjectCall call, const uint64_t args[6], long *ret_result) {
        static const uint64_t zero[6] = {};
        const uint64_t all = UINT64_MAX;
        const InjectAbi *abis;
        InjectRegs regs;
        uint64_t insn_addr;
        size_t n_abis, abi_index;
        bool entered = false, use_frame;
        usec_t t_run;
        long nr, result;
        int status, r;

        if (!t || call < 0 || call >= _INJECT_CALL_MAX || !ret_result)
                return -EINVAL;
        if (!t->stopped)
                return -ESRCH;
        if (!args)
                args = zero;

        t->seccomp_action = NULL;
        abis = inject_arch_abis(&n_abis);
        abi_index = (size_t) (t->abi - abis);
        nr = t->abi->nr[call];

        /* the call's own check first: nothing is written into a target we will not inject */
        use_frame = t->insn_ret_addr[abi_index] != 0 && (!t->frame_tried || t->frame_error == 0);
        insn_addr = use_frame ? t->insn_ret_addr[abi_index] : t->insn_addr[abi_index];
        r = seccomp_precheck(t, nr, args, insn_addr);
        if (r < 0)
                return r;
        if (use_frame && frame_prepare(t, abi_index) < 0) {
                use_frame = false;
                insn_addr = t->insn_addr[abi_index];
                r = seccomp_precheck(t, nr, args, insn_addr);
                if (r < 0)
                        return r;
        }

        r = inject_arch_setup_call(&t->saved, t->abi, insn_addr, nr, args, &regs);
        if (r >= 0 && use_frame)
                r = inject_arch_frame_enter(&regs, t->abi, t->frame.addr);
        if (r < 0)
                return r;
        if (!use_frame) {
                /* from here until the registers are back, a dying injector must kill, not corrupt */
                if (ptrace(PTRACE_SETOPTIONS, t->tid, NULL, (void *) (long) (PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) < 0)
                        return -errno;
                t->exitkill = true;
        }
        r = inject_regs_set(t->tid, &regs);
        if (r < 0)
                return r;
        t->regs_dirty = true;
        t->frame_call = use_frame;
        /* Only now: had we vanished just before, the target would resume with its own mask. */
        if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *) sizeof(all), &all) < 0)
                return -errno;
        t->mask_blocked = true;

        t_run = now_usec(CLOCK_MONOTONIC);
        if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) < 0)
                return -errno;
        t->stopped = false;

        for (;;) {
                int sig = 0;

                r = wait_tid(t->tid, USEC_INFINITY, &status);
                if (r < 0)
                        return r;
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        t->seized = t->regs_dirty = t->mask_blocked = t->exitkill = false;
                        return -ESRCH;
                }
                if (!WIFSTOPPED(status))
                        continue;
                t->stopped = true;

                if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
                        if (entered) {
                                t->in_calls += now_usec(CLOCK_MONOTONIC) - t_run;
                                break;          /* the syscall-exit stop */
                        }
                        entered = true;
                } else if (status >> 16 == PTRACE_EVENT_STOP) {
                        ;                       /* a SIGSTOP arrived: group-stop, resumed by us for now */
                } else if (status >> 16 == 0) {
                        sig = WSTOPSIG(status);
                        if (sig != SIGSTOP) {
                                /* Everything blockable is blocked: this is a synchronous signal the
                                 * injected instruction caused. Drop it and put everything back. */
                                log_debug("Signal %d in %d during injection, aborting.", sig, (int) t->tid);
                                r = restore_state(t);
                                return r < 0 ? r : -EFAULT;
                        }
                }
                if (ptrace(PTRACE_SYSCALL, t->tid, NULL, (void *) (long) sig) < 0)
                        return -errno;
                t->stopped = false;
        }

        r = inject_regs_get(t->tid, &regs);
        if (r < 0)
                return r;
        result = inject_arch_result(&regs, t->abi);
        r = restore_state(t);
        if (r < 0)
                return r;
        t->calls++;
        if (use_frame)
                t->frame_calls++;

        /* The return register still holding the syscall number means a filter rolled the call
         * back (SECCOMP_RET_KILL_*, TRAP): report it. Only calls that return 0 or -errno. */
        if (call != INJECT_GETPID && result == nr) {
                t->seccomp_action = "rolled_back";
                return -EPERM;
        }
        *ret_result = result;
        return 0;
}

const char *inject_seccomp_action(const Tracee *t) {
        return t ? t->seccomp_action : NULL;
}

bool inject_tracee_group_stopped(const Tracee *t) {
        return t && t->group_stopped;
}

usec_t inject_held(const Tracee *t) {
        return t && t->t_stop > 0 ? now_usec(CLOCK_MONOTONIC) - t->t_stop : 0;
}

int inject_detach(Tracee *t, InjectStats *ret_stats) {
        usec_t end;
        int r;

        if (!t)
                return 0;

        r = tracee_release(t);
        end = now_usec(CLOCK_MONOTONIC);
        if (ret_stats)
                *ret_stats = (InjectStats) {
                        .held = t->t_stop > 0 ? (t->t_release > 0 ? t->t_release : end) - t->t_stop : 0,
                        .total = t->t_seize > 0 ? end - t->t_seize : 0,
                        .calls = t->calls,
                        .frame_calls = t->frame_calls,
                        .stop_wait = t->stop_wait,
                        .in_calls = t->in_calls,
                        .pidfs_ino = t->pidfs_ino,
                        .tid = t->tid,
                        .release_runtime = t->release_sched.runtime,
                        .release_timeslices = t->release_sched.timeslices,
                        .run_wait = t->run_wait,
                        .run_wait_expired = t->run_wait_expired,
                        .run_wait_end = t->run_wait_end,
                };
        tracee_free(t);
        return r;
}
