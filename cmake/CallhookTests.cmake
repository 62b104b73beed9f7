# cmake/CallhookTests.cmake: register a test file's cases, one ctest each, with each case name written once (in C).
#
# ch_add_case_tests(<target> SOURCE <file.c> PREFIX <label.file> LABEL <label> TIMEOUT <s> [TABLE])
#   A file written as TEST_CASE(name) { ... } cases (tests/check.h) links the shared main
#   (tests/support/test_main.c) and gets one ctest <PREFIX>.<name> per case. A file without TEST_CASE
#   keeps its own main() and is one ctest <PREFIX>. With TABLE, the file keeps its own main() and a case table
#   whose entries read `{.name = "<case>", ...` (cases with per-case options, as the SIP engine's): one ctest
#   per entry, run as `<target> <case>`. Exit status 77 is reported as skipped.
function(ch_add_case_tests target)
  cmake_parse_arguments(A "TABLE" "SOURCE;PREFIX;LABEL;TIMEOUT" "" ${ARGN})
  if(A_TABLE)
    set(re "\\{\\.name = \"([a-z0-9_]+)\"")
  else()
    set(re "^TEST_CASE\\(([a-z0-9_]+)\\)")
  endif()
  file(STRINGS ${A_SOURCE} lines REGEX "${re}")
  set(names "")
  foreach(l ${lines})
    string(REGEX MATCH "${re}" m "${l}")
    list(APPEND names ${CMAKE_MATCH_1})
  endforeach()
  # re-run configure when the cases change
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${A_SOURCE})
  if(names AND NOT A_TABLE)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support/test_main.c)
  endif()
  if(names)
    foreach(n ${names})
      add_test(NAME ${A_PREFIX}.${n} COMMAND ${target} ${n})
      set_tests_properties(${A_PREFIX}.${n} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT} SKIP_RETURN_CODE 77)
    endforeach()
  else()
    add_test(NAME ${A_PREFIX} COMMAND ${target})
    set_tests_properties(${A_PREFIX} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT} SKIP_RETURN_CODE 77)
  endif()
endfunction()
