/* A stand-in for Windows' bcryptprimitives.dll, for running the Windows build under Wine 8, whose
 * own copy lacks ProcessPrng (Rust's std takes its random bytes from it). Built by the test setup
 * (tests/windows/setup.sh) with mingw and put in the Wine prefix; never committed as a binary.
 * ProcessPrng is implemented with RtlGenRandom (advapi32's SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
