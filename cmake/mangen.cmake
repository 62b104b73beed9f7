# cmake/mangen.cmake: build-time step: runs docs/mangen.awk (cmake -P) and replaces OUT only when the text changed.
# Inputs (-D): AWK, SCRIPT, SRC, OUT, MODE (man|help), VERSION, DATE; for callhook.conf(5) also PAGE, MANSECT and
# SCHEMA (callhook_schema's output: the config table's facts).
if(NOT DEFINED PAGE)
  set(PAGE callhook)
endif()
if(NOT DEFINED MANSECT)
  set(MANSECT 8)
endif()
execute_process(
  COMMAND "${AWK}" -v "mode=${MODE}" -v "version=${VERSION}" -v "date=${DATE}" -v "page=${PAGE}"
          -v "mansect=${MANSECT}" -v "schema=${SCHEMA}" -f "${SCRIPT}" "${SRC}"
  OUTPUT_FILE "${OUT}.tmp"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "mangen: ${SCRIPT} failed on ${SRC} (${rc})")
endif()
file(SHA256 "${OUT}.tmp" new_hash)
set(old_hash "")
if(EXISTS "${OUT}")
  file(SHA256 "${OUT}" old_hash)
endif()
if(new_hash STREQUAL old_hash)
  file(REMOVE "${OUT}.tmp")
  file(TOUCH_NOCREATE "${OUT}")
else()
  file(RENAME "${OUT}.tmp" "${OUT}")
endif()
