// Thread count and ISA reporting shared by the oneDNN backend and Eigen/OpenMP kernels.
#include "qat/runtime.h"

#include <omp.h>

#include <algorithm>
#include <thread>

namespace qat {

void setNumThreads(int threads) {
    if (threads <= 0)
        threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    omp_set_num_threads(threads);
}

int numThreads() {
    return omp_get_max_threads();
}

} // namespace qat
