# cmake/docs.cmake: generates callhook(8), callhook_usage.h (the --help text) and callhook.conf(5) from their sources.
# Outputs: ${CALLHOOK_MAN_PAGE} (troff) and ${CALLHOOK_GEN_DIR}/callhook_usage.h, which
# declares static const char callhook_usage[] for main.c, both from docs/callhook.8.txt;
# ${CALLHOOK_CONF_PAGE}, from docs/callhook.conf.5.txt (the prose) and the config table
# (its facts, printed by callhook_schema into ${CALLHOOK_SCHEMA}).
find_program(CALLHOOK_AWK NAMES awk mawk gawk REQUIRED)

set(CALLHOOK_GEN_DIR ${CMAKE_BINARY_DIR}/generated)
set(CALLHOOK_MAN_PAGE ${CMAKE_BINARY_DIR}/docs/callhook.8)
set(CALLHOOK_CONF_PAGE ${CMAKE_BINARY_DIR}/docs/callhook.conf.5)
set(CALLHOOK_SCHEMA ${CMAKE_BINARY_DIR}/docs/schema.tsv)
file(MAKE_DIRECTORY ${CALLHOOK_GEN_DIR} ${CMAKE_BINARY_DIR}/docs)
# honours SOURCE_DATE_EPOCH, for reproducible packages
string(TIMESTAMP CALLHOOK_MAN_DATE "%Y-%m-%d" UTC)

set(_ch_doc_src ${CMAKE_SOURCE_DIR}/docs/callhook.8.txt)
set(_ch_doc_awk ${CMAKE_SOURCE_DIR}/docs/mangen.awk)
foreach(_ch_mode help man)
  if(_ch_mode STREQUAL "help")
    set(_ch_out ${CALLHOOK_GEN_DIR}/callhook_usage.h)
  else()
    set(_ch_out ${CALLHOOK_MAN_PAGE})
  endif()
  add_custom_command(OUTPUT ${_ch_out}
    COMMAND ${CMAKE_COMMAND} -DAWK=${CALLHOOK_AWK} -DSCRIPT=${_ch_doc_awk} -DSRC=${_ch_doc_src}
            -DOUT=${_ch_out} -DMODE=${_ch_mode} -DVERSION=${PROJECT_VERSION} -DDATE=${CALLHOOK_MAN_DATE}
            -P ${CMAKE_CURRENT_LIST_DIR}/mangen.cmake
    DEPENDS ${_ch_doc_src} ${_ch_doc_awk} ${CMAKE_CURRENT_LIST_DIR}/mangen.cmake
    COMMENT "Generating ${_ch_out} from docs/callhook.8.txt"
    VERBATIM)
endforeach()

add_custom_command(OUTPUT ${CALLHOOK_SCHEMA}
  COMMAND callhook_schema ${CALLHOOK_SCHEMA}
  DEPENDS callhook_schema
  COMMENT "Printing the config table for callhook.conf(5)"
  VERBATIM)
set(_ch_conf_src ${CMAKE_SOURCE_DIR}/docs/callhook.conf.5.txt)
add_custom_command(OUTPUT ${CALLHOOK_CONF_PAGE}
  COMMAND ${CMAKE_COMMAND} -DAWK=${CALLHOOK_AWK} -DSCRIPT=${_ch_doc_awk} -DSRC=${_ch_conf_src}
          -DOUT=${CALLHOOK_CONF_PAGE} -DMODE=man -DVERSION=${PROJECT_VERSION} -DDATE=${CALLHOOK_MAN_DATE}
          -DPAGE=callhook.conf -DMANSECT=5 -DSCHEMA=${CALLHOOK_SCHEMA} -P ${CMAKE_CURRENT_LIST_DIR}/mangen.cmake
  DEPENDS ${_ch_conf_src} ${CALLHOOK_SCHEMA} ${_ch_doc_awk} ${CMAKE_CURRENT_LIST_DIR}/mangen.cmake
  COMMENT "Generating ${CALLHOOK_CONF_PAGE} from docs/callhook.conf.5.txt and the config table"
  VERBATIM)

add_custom_target(callhook_docs ALL DEPENDS ${CALLHOOK_GEN_DIR}/callhook_usage.h ${CALLHOOK_MAN_PAGE}
                                            ${CALLHOOK_CONF_PAGE})
if(TARGET callhook)
  # main.c: #include "callhook_usage.h"
  target_include_directories(callhook PRIVATE ${CALLHOOK_GEN_DIR})
  add_dependencies(callhook callhook_docs)
endif()
