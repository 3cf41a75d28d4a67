/* The e2e tests' workload: workload N [PATH [DELAY_MS]]
 * sleeps DELAY_MS, calls getppid() exactly N times (the raw syscall, no
 * libc caching) and work_step(i) for i = 0..N-1 (a uprobe target returning
 * 2 * i), then opens PATH once with O_RDONLY|O_NOCTTY|O_CLOEXEC, flags
 * nothing else here uses. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) long work_step(long i) {
    __asm__ volatile("" ::: "memory");
    return 2 * i;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    if (argc > 3) {
        long ms = atol(argv[3]);
        struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&delay, NULL);
    }
    long total = 0;
    for (long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        total += work_step(i);
    }
    if (argc > 2 && argv[2][0]) {
        int fd = open(argv[2], O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
    return total < 0;
}
