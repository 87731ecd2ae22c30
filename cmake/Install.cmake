# Installable, exported package: find_package(mfx) then link mfx::mfx.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS mfx EXPORT mfxTargets
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
