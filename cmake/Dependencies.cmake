# Third-party libraries, all from Debian packages (see scripts/install_deps.sh).
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# OpenBLAS provides cblas_sgemm/dgemm for the CPU matmul and conv kernels.
find_library(MFX_OPENBLAS_LIBRARY NAMES openblas REQUIRED)
find_path(MFX_CBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas REQUIRED)
