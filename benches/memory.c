/* What memory costs on this machine, apart from any reaction:
 *
 *   memory read FILE CHUNK OFFSET   reads FILE (from the page cache) into one
 *                                   reused buffer of CHUNK bytes that starts
 *                                   OFFSET bytes past a page; seconds in read()
 *   memory touch MB HUGE            writes MB of fresh memory twice (HUGE 1:
 *                                   with MADV_HUGEPAGE); seconds for each
 *
 * benches/memory.sh runs both the ways benches/README.md reports.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int read_file(const char *path, size_t chunk, size_t offset) {
    int fd = open(path, O_RDONLY);
    char *buffer = aligned_alloc(4096, chunk + 4096);
    if (fd < 0 || !buffer) { perror(path); return 1; }
    memset(buffer, 0, chunk + 4096);
    double in_read = 0;
    for (;;) {
        double start = now();
        ssize_t n = read(fd, buffer + offset, chunk);
        in_read += now() - start;
        if (n <= 0) break;
    }
    printf("read: %zu-byte buffer at page + %zu: %.3f s in read()\n", chunk, offset, in_read);
    return 0;
}

static int touch(size_t mb, int huge) {
    size_t n = mb << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    if (huge) madvise(p, n, MADV_HUGEPAGE);
    double a = now();
    memset(p, 1, n);
    double b = now();
    memset(p, 2, n);
    double c = now();
    printf("touch: %zu MB, huge pages %s: first write %.3f s (%.2f GB/s), second %.3f s (%.2f GB/s)\n",
           mb, huge ? "asked" : "not asked", b - a, n / (b - a) / 1e9, c - b, n / (c - b) / 1e9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "read"))
        return read_file(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10));
    if (argc == 4 && !strcmp(argv[1], "touch"))
        return touch(strtoul(argv[2], 0, 10), atoi(argv[3]));
    fprintf(stderr, "usage: memory read FILE CHUNK OFFSET | memory touch MB HUGE\n");
    return 2;
}
