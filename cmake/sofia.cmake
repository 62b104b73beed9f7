# cmake/sofia.cmake: the Sofia-SIP the originator's SIP engine links (target ch_sofia).
# By default the patched static build of third_party/sofia-sip (NTATAG_UA_LINGER, docs/originator.md), made by
# third_party/sofia-sip/build.sh in <build>/third_party/sofia-sip (or CALLHOOK_SOFIA_DIR) when it is not up to
# date there. CALLHOOK_SYSTEM_SOFIA=ON links Debian's stock shared library instead (libsofia-sip-ua-dev): the
# originator then keeps RFC 3261's 32-s timers and says so at start.
option(CALLHOOK_SYSTEM_SOFIA "Link Debian's stock libsofia-sip-ua instead of the patched static build" OFF)
set(CALLHOOK_SOFIA_DIR "" CACHE PATH "Where third_party/sofia-sip/build.sh builds (default <build>/third_party/sofia-sip)")

if(CALLHOOK_SYSTEM_SOFIA)
  pkg_check_modules(SOFIA REQUIRED IMPORTED_TARGET sofia-sip-ua)
  add_library(ch_sofia INTERFACE)
  target_link_libraries(ch_sofia INTERFACE PkgConfig::SOFIA)
  return()
endif()

set(_sofia_dir "${CALLHOOK_SOFIA_DIR}")
if(NOT _sofia_dir)
  set(_sofia_dir "${CMAKE_BINARY_DIR}/third_party/sofia-sip")
endif()
file(GLOB _sofia_inputs "${CMAKE_SOURCE_DIR}/third_party/sofia-sip/*.patch")
list(APPEND _sofia_inputs "${CMAKE_SOURCE_DIR}/third_party/sofia-sip/build.sh")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_sofia_inputs})
execute_process(COMMAND "${CMAKE_SOURCE_DIR}/third_party/sofia-sip/build.sh" "${_sofia_dir}" RESULT_VARIABLE _sofia_rc)
if(NOT _sofia_rc EQUAL 0)
  message(FATAL_ERROR "the patched Sofia-SIP could not be built (the lines above say why); "
                      "scripts/deps.sh installs what it needs, -DCALLHOOK_SYSTEM_SOFIA=ON uses Debian's stock library")
endif()

find_package(OpenSSL REQUIRED)
add_library(ch_sofia STATIC IMPORTED GLOBAL)
set_target_properties(ch_sofia PROPERTIES
  IMPORTED_LOCATION "${_sofia_dir}/prefix/lib/libsofia-sip-ua.a"
  INTERFACE_INCLUDE_DIRECTORIES "${_sofia_dir}/prefix/include/sofia-sip-1.12"
  INTERFACE_LINK_LIBRARIES "OpenSSL::SSL;OpenSSL::Crypto;Threads::Threads")
