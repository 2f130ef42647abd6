// Handing freed memory back to the system, where the allocator keeps it otherwise.
#include "charrnn_kernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void crn_return_freed_memory(void) {
#if defined(__GLIBC__)
    // glibc keeps freed heap pages, and after a large block is freed it raises its mmap threshold so
    // that blocks of that size come from the heap too; trimming returns every free page.
    malloc_trim(0);
#endif
}
