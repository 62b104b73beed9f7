# cmake/install_unit.cmake: install-time step: installs callhook.service with ExecStart and /etc/callhook/ rewritten for the prefix.
# Inputs (set by cmake/install.cmake): CALLHOOK_UNIT_SRC, CALLHOOK_UNIT_DIR, CALLHOOK_SBINDIR,
# CALLHOOK_UNIT_TMP (a scratch folder in the build tree).
set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${CALLHOOK_UNIT_DIR}")
  set(_unitdir "${CALLHOOK_UNIT_DIR}")
else()
  set(_unitdir "${_prefix}/${CALLHOOK_UNIT_DIR}")
endif()
if(IS_ABSOLUTE "${CALLHOOK_SBINDIR}")
  set(_sbin "${CALLHOOK_SBINDIR}")
else()
  set(_sbin "${_prefix}/${CALLHOOK_SBINDIR}")
endif()
# the GNU rule (as GNUInstallDirs): /usr -> /etc, /opt/x -> /etc/opt/x, else <prefix>/etc
if(_prefix STREQUAL "/usr")
  set(_etc "/etc")
elseif(_prefix MATCHES "^/opt/(.+)$")
  set(_etc "/etc/opt/${CMAKE_MATCH_1}")
else()
  set(_etc "${_prefix}/etc")
endif()

file(READ "${CALLHOOK_UNIT_SRC}" _unit)
string(REPLACE "/usr/sbin/callhook" "${_sbin}/callhook" _unit "${_unit}")
string(REPLACE "/etc/callhook/" "${_etc}/callhook/" _unit "${_unit}")
string(REPLACE "/usr/lib/systemd/system/" "${_unitdir}/" _unit "${_unit}")
set(_tmpdir "${CALLHOOK_UNIT_TMP}")
file(MAKE_DIRECTORY "${_tmpdir}")
file(WRITE "${_tmpdir}/callhook.service" "${_unit}")
# file(INSTALL) adds DESTDIR and records the file in install_manifest.txt
file(INSTALL DESTINATION "${_unitdir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${_tmpdir}/callhook.service")
