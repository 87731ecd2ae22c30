# Installs the mfx build tree into a scratch prefix, then configures, builds
# and runs examples/find_package_demo against it with find_package(mfx): the
# core, grad of the match-free loss on a detector, and jit with its fusion
# report.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${MFX_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
# The consumer compiles and links with the flags of the build it installs:
# the static libraries of a sanitizer build (the asan preset) need the
# sanitizer runtimes at link time.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${MFX_SOURCE_DIR}/examples/find_package_demo
                        -B ${WORK_DIR}/build -G ${GENERATOR}
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                        -DCMAKE_CXX_FLAGS=${CXX_FLAGS} -DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configure failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "build failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/demo ${WORK_DIR}/report RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "demo failed: ${rc}")
endif()
foreach(f summary.txt report.json graph.html)
  if(NOT EXISTS ${WORK_DIR}/report/${f})
    message(FATAL_ERROR "the demo's fusion report lacks ${f}")
  endif()
endforeach()
