# Compiler cache and fast linker, used when available. Both only change build
# speed, never the result.
find_program(MFX_CCACHE ccache)
if(MFX_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${MFX_CCACHE} CACHE STRING "" FORCE)
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${MFX_CCACHE} CACHE STRING "" FORCE)
endif()

find_program(MFX_LLD ld.lld)
if(MFX_LLD AND NOT MFX_NO_LLD)
  add_link_options(-fuse-ld=lld)
endif()
