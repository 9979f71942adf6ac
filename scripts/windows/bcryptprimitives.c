/* A stand-in for Windows' bcryptprimitives.dll, for the Wine tests only (never shipped).
   Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's standard library imports for
   random numbers; Windows 10 and later have it. This one fills the buffer through advapi32's
   RtlGenRandom (SystemFunction036), which Wine has. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) {
            return FALSE;
        }
        data += n;
        length -= n;
    }
    return TRUE;
}
