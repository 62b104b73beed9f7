# cmake/install.cmake: what `cmake --install` puts where (man page, examples, docs, systemd unit); included last by CMakeLists.txt.
#   <prefix>/sbin/callhook                          (the top CMakeLists.txt)
#   <prefix>/share/man/man8/callhook.8
#   <prefix>/share/man/man5/callhook.conf.5
#   <prefix>/share/doc/callhook/README.md
#   <prefix>/share/doc/callhook/examples/           callhook.conf, callhook-full.conf, rest_client_config.json, token/
#   <prefix>/lib/systemd/system/callhook.service    ExecStart and config path follow the prefix
include(GNUInstallDirs)
include(${CMAKE_CURRENT_LIST_DIR}/docs.cmake)

set(CALLHOOK_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where callhook.service is installed: relative to the prefix, or absolute")

install(FILES ${CALLHOOK_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CALLHOOK_CONF_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/examples/callhook.conf ${CMAKE_SOURCE_DIR}/examples/callhook-full.conf
              ${CMAKE_SOURCE_DIR}/examples/rest_client_config.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/examples/token)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/token DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
endif()

# The unit names /usr/sbin/callhook and /etc/callhook/: rewritten at install
# time for the prefix actually used (cmake --install --prefix DIR), so an
# installed copy always points at the binary installed with it.
install(CODE "set(CALLHOOK_UNIT_SRC \"${CMAKE_SOURCE_DIR}/examples/systemd/callhook.service\")
set(CALLHOOK_UNIT_DIR \"${CALLHOOK_SYSTEMD_UNITDIR}\")
set(CALLHOOK_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
set(CALLHOOK_UNIT_TMP \"${CMAKE_BINARY_DIR}/callhook-unit\")")
install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/install_unit.cmake)
