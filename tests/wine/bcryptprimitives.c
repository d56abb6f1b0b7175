/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks and
 * Rust's standard library imports (ProcessPrng, for HashMap's keys): every
 * Rust program fails to start under that Wine without it. It fills the
 * buffer from RtlGenRandom (SystemFunction036 in advapi32), which Wine has.
 * It belongs to the test set-up only: real Windows ships the library. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
