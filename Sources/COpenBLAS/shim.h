#ifndef CHARRNN_OPENBLAS_SHIM_H
#define CHARRNN_OPENBLAS_SHIM_H
// Debian's libopenblas-dev: pkg-config adds the include folder of the chosen OpenBLAS variant.
#include <cblas.h>
#endif
