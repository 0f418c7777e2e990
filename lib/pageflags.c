/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pageflags.h"

/* pagemap entries read at once: 2 MiB of address space with 4K pages */
#define BATCH 512

struct PageFlags {
        int pagemap_fd;
        int kpageflags_fd;
        int kpagecgroup_fd;             /* -EBADF unless PAGEFLAGS_CGROUP */
        uint64_t page_size;
};

PageFlags *pageflags_free(PageFlags *p) {
        if (!p)
                return NULL;
        safe_close(p->pagemap_fd);
        safe_close(p->kpageflags_fd);
        safe_close(p->kpagecgroup_fd);
        free(p);
        return NULL;
}

uint64_t pageflags_page_size(const PageFlags *p) {
        return p ? p->page_size : 0;
}

static bool is_denied(int r) {
        return r == -EPERM || r == -EACCES;
}

int pageflags_open(const char *proc_root, pid_t pid, unsigned flags, PageFlags **ret, const char **ret_reason) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        char path[4096];
        long ps;

        if (!proc_root || pid <= 0 || !ret)
                return -EINVAL;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->pagemap_fd = p->kpageflags_fd = p->kpagecgroup_fd = -EBADF;
        ps = sysconf(_SC_PAGESIZE);
        p->page_size = ps > 0 ? (uint64_t) ps : 4096;

        snprintf(path, sizeof path, "%s/%d/pagemap", proc_root, (int) pid);
        p->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (p->pagemap_fd < 0) {
                int r = -errno;

                if (ret_reason)
                        *ret_reason = r == -ENOENT ? "gone" : is_denied(r) ? "pagemap-unreadable" : NULL;
                return r == -ENOENT ? -ESRCH : r;
        }

        snprintf(path, sizeof path, "%s/kpageflags", proc_root);
        p->kpageflags_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (p->kpageflags_fd < 0) {
                int r = -errno;

                if (ret_reason)
                        *ret_reason = is_denied(r) ? "kpageflags-unreadable" : NULL;
                return r;
        }

        if (flags & PAGEFLAGS_CGROUP) {
                snprintf(path, sizeof path, "%s/kpagecgroup", proc_root);
                p->kpagecgroup_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (p->kpagecgroup_fd < 0) {
                        int r = -errno;

                        if (ret_reason)
                                *ret_reason = is_denied(r) ? "kpagecgroup-unreadable" : NULL;
                        return r;
                }
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* Read n u64 entries at index idx of fd; entries past the end of the file read as 0 (a fixture
 * shorter than the address space; the kernel's files never end early). */
static int read_entries(int fd, uint64_t idx, uint64_t *buf, size_t n) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = pread(fd, (char *) buf + done * 8, (n - done) * 8, (off_t) ((idx + done) * 8));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                if (k % 8 != 0)
                        return -EIO;
                done += (size_t) k / 8;
        }
        for (; done < n; done++)
                buf[done] = 0;
        return 0;
}

/* The kpageflags (and kpagecgroup) of pfns[0..n), reading each run of consecutive PFNs with one
 * pread: a THP is 512 of them, and 4K pages are often allocated in runs too. */
static int read_by_pfn(int fd, const uint64_t *pfns, size_t n, uint64_t *out) {
        size_t i = 0;

        while (i < n) {
                size_t run = 1;
                int r;

                if (pfns[i] == 0) {
                        out[i++] = 0;
                        continue;
                }
                while (i + run < n && pfns[i + run] == pfns[i] + run)
                        run++;
                r = read_entries(fd, pfns[i], out + i, run);
                if (r < 0)
                        return r;
                i += run;
        }
        return 0;
}

static bool bit(uint64_t v, unsigned b) {
        return (v >> b) & 1;
}

void page_charges_add(PageCharges *c, uint64_t memcg_ino, uint64_t pages) {
        if (memcg_ino == 0 || pages == 0)
                return;
        for (uint32_t i = 0; i < c->n && i < PAGE_CHARGES_MAX; i++)
                if (c->charges[i].memcg_ino == memcg_ino) {
                        c->charges[i].pages += pages;
                        return;
                }
        if (c->n < PAGE_CHARGES_MAX)
                c->charges[c->n++] = (PageCharge) { .memcg_ino = memcg_ino, .pages = pages };
        else
                c->other += pages;
}

void page_charges_merge(PageCharges *c, const PageCharges *from) {
        for (uint32_t i = 0; i < from->n && i < PAGE_CHARGES_MAX; i++)
                page_charges_add(c, from->charges[i].memcg_ino, from->charges[i].pages);
        c->other += from->other;
        c->unread = c->unread || from->unread;
}

uint64_t page_charges_get(const PageCharges *c, uint64_t memcg_ino) {
        for (uint32_t i = 0; memcg_ino != 0 && i < c->n && i < PAGE_CHARGES_MAX; i++)
                if (c->charges[i].memcg_ino == memcg_ino)
                        return c->charges[i].pages;
        return 0;
}

uint64_t page_charges_total(const PageCharges *c) {
        uint64_t sum = c->other;

        for (uint32_t i = 0; i < c->n && i < PAGE_CHARGES_MAX; i++)
                sum += c->charges[i].pages;
        return sum;
}

int page_charges_check(const PageCharges *c, uint64_t own_ino, uint64_t mlocked) {
        uint64_t sum = c->other;

        if (c->n > PAGE_CHARGES_MAX || c->unread > 1 || (c->unread && (c->n > 0 || c->other > 0)))
                return -EBADMSG;
        for (uint32_t i = 0; i < c->n; i++) {
                const PageCharge *e = &c->charges[i];

                if (e->memcg_ino == 0 || e->memcg_ino == own_ino || e->pages == 0 || e->pages > mlocked)
                        return -EBADMSG;
                for (uint32_t k = 0; k < i; k++)
                        if (c->charges[k].memcg_ino == e->memcg_ino)
                                return -EBADMSG;
                sum += e->pages;
        }
        return sum <= mlocked ? 0 : -EBADMSG;
}

int pageflags_count(PageFlags *p, uint64_t start, uint64_t end, uint64_t memcg_ino, PageCounts *c,
                    const char **ret_reason) {
        return pageflags_count_charged(p, start, end, memcg_ino, c, NULL, ret_reason);
}

int pageflags_count_charged(PageFlags *p, uint64_t start, uint64_t end, uint64_t memcg_ino, PageCounts *c,
                            PageCharges *foreign, const char **ret_reason) {
        uint64_t entries[BATCH], pfns[BATCH], kflags[BATCH], cgroups[BATCH];
        PageCharges facc = {};
        PageCounts acc;

        if (!p || !c || end < start || start % p->page_size || end % p->page_size)
                return -EINVAL;

        acc = *c;
        for (uint64_t idx = start / p->page_size, last = end / p->page_size; idx < last;) {
                size_t n = (size_t) MIN((uint64_t) BATCH, last - idx), np = 0;
                int r;

                r = read_entries(p->pagemap_fd, idx, entries, n);
                if (r < 0)
                        return r;

                for (size_t k = 0; k < n; k++) {
                        uint64_t e = entries[k];

                        acc.pages++;
                        if (e & PAGEMAP_PRESENT) {
                                uint64_t pfn = e & PAGEMAP_PFN_MASK;

                                acc.present++;
                                if (pfn == 0) {
                                        /* no CAP_SYS_ADMIN: the kernel hides PFNs */
                                        if (ret_reason)
                                                *ret_reason = "kpageflags-unreadable";
                                        return -EPERM;
                                }
                                pfns[np++] = pfn;
                        } else if (e & PAGEMAP_SWAPPED)
                                acc.swapped++;
                }

                r = read_by_pfn(p->kpageflags_fd, pfns, np, kflags);
                if (r < 0) {
                        if (ret_reason && is_denied(r))
                                *ret_reason = "kpageflags-unreadable";
                        return r;
                }
                if (p->kpagecgroup_fd >= 0 && memcg_ino != 0) {
                        r = read_by_pfn(p->kpagecgroup_fd, pfns, np, cgroups);
                        if (r < 0) {
                                if (ret_reason && is_denied(r))
                                        *ret_reason = "kpagecgroup-unreadable";
                                return r;
                        }
                }

                for (size_t j = 0; j < np; j++) {
                        uint64_t f = kflags[j];
                        bool large = !bit(f, KPF_BIT_HUGE) &&
                                     (bit(f, KPF_BIT_COMPOUND_HEAD) || bit(f, KPF_BIT_COMPOUND_TAIL));

                        if (bit(f, KPF_BIT_ZERO_PAGE))
                                acc.zero++;
                        if (bit(f, KPF_BIT_UNEVICTABLE))
                                acc.unevictable++;
                        if (bit(f, KPF_BIT_THP))
                                acc.thp++;
                        if (large)
                                acc.large++;
                        if (bit(f, KPF_BIT_MLOCKED)) {
                                acc.mlocked++;
                                if (p->kpagecgroup_fd >= 0 && memcg_ino != 0 && cgroups[j] == memcg_ino)
                                        acc.memcg_mlocked++;
                                else if (foreign && p->kpagecgroup_fd >= 0 && memcg_ino != 0)
                                        page_charges_add(&facc, cgroups[j], 1);
                        } else if (large)
                                acc.large_not_mlocked++;
                }
                idx += n;
        }

        *c = acc;
        if (foreign)
                page_charges_merge(foreign, &facc);
        return 0;
}
