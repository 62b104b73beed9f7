# cmake/CallhookTests.cmake: register a test file's cases, one ctest each, with each case name written once (in C).
#
# ch_add_case_tests(<target> SOURCE <file.c> PREFIX <label.file> LABEL <label> TIMEOUT <s> [SKIP_OK])
#   A file written as TEST_CASE(name) { ... } cases (tests/check.h) links the shared main
#   (tests/support/test_main.c) and gets one ctest <PREFIX>.<name> per case. A file without TEST_CASE
#   keeps its own main() and is one ctest <PREFIX>. Exit status 77 is reported as skipped.
function(ch_add_case_tests target)
  cmake_parse_arguments(A "" "SOURCE;PREFIX;LABEL;TIMEOUT" "" ${ARGN})
  file(STRINGS ${A_SOURCE} lines REGEX "^TEST_CASE\\(([a-z0-9_]+)\\)")
  set(names "")
  foreach(l ${lines})
    string(REGEX REPLACE "^TEST_CASE\\(([a-z0-9_]+)\\).*" "\\1" n "${l}")
    list(APPEND names ${n})
  endforeach()
  # re-run configure when the cases change
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${A_SOURCE})
  if(names)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support/test_main.c)
    foreach(n ${names})
      add_test(NAME ${A_PREFIX}.${n} COMMAND ${target} ${n})
      set_tests_properties(${A_PREFIX}.${n} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT} SKIP_RETURN_CODE 77)
    endforeach()
  else()
    add_test(NAME ${A_PREFIX} COMMAND ${target})
    set_tests_properties(${A_PREFIX} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT} SKIP_RETURN_CODE 77)
  endif()
endfunction()
