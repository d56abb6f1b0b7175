/* Starts a program many times, `parallel` at a time, and counts the starts
 * that fail, by error code: how often Wine refuses a CreateProcess
 * (benches/wine-starts.sh). Built with mingw, run under Wine.
 *
 *   wine-starts.exe COUNT "COMMAND LINE" PARALLEL
 */
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: wine-starts.exe COUNT \"COMMAND LINE\" PARALLEL\n");
        return 2;
    }
    int count = atoi(argv[1]), parallel = atoi(argv[3]), failed = 0;
    if (parallel < 1 || parallel > 64) parallel = 1;
    for (int done = 0; done < count; done += parallel) {
        PROCESS_INFORMATION started[64];
        BOOL ok[64];
        for (int i = 0; i < parallel; i++) {
            STARTUPINFOA startup = {sizeof startup};
            ok[i] = CreateProcessA(NULL, argv[2], NULL, NULL, FALSE, 0, NULL, NULL, &startup,
                                   &started[i]);
            if (!ok[i]) {
                failed++;
                printf("failed: error %lu\n", GetLastError());
            }
        }
        for (int i = 0; i < parallel; i++) {
            if (ok[i]) {
                WaitForSingleObject(started[i].hProcess, INFINITE);
                CloseHandle(started[i].hProcess);
                CloseHandle(started[i].hThread);
            }
        }
    }
    printf("%d of %d starts failed\n", failed, count);
    return 0;
}
