# Installable, exported package: find_package(mfx), then link mfx::mfx (the
# core), mfx::compiler (jit; MLIR/LLVM) and mfx::models (detector, criteria,
# COCO, training). The libraries are static by default, so the package
# config finds their link dependencies too (cmake/mfxConfig.cmake.in).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_mfx_install_targets mfx)
set(MFX_PACKAGE_HAS_COMPILER OFF)
set(MFX_PACKAGE_HAS_MODELS OFF)
if(TARGET mfx_compiler)
  list(APPEND _mfx_install_targets mfx_compiler)
  set_target_properties(mfx_compiler PROPERTIES EXPORT_NAME compiler)
  set(MFX_PACKAGE_HAS_COMPILER ON)
endif()
if(TARGET mfx_models)
  list(APPEND _mfx_install_targets mfx_models)
  set_target_properties(mfx_models PROPERTIES EXPORT_NAME models)
  set(MFX_PACKAGE_HAS_MODELS ON)
endif()

install(TARGETS ${_mfx_install_targets} EXPORT mfxTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/mfx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mfxTargets NAMESPACE mfx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mfx)

configure_package_config_file(cmake/mfxConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mfxConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mfx)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mfxConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mfxConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/mfxConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mfx)
