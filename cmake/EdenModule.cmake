# eden_add_module(NAME SOURCES ... DEPS ... PRIVATE_DEPS ...)
# One static library per module, target eden_<NAME>, alias eden::<NAME>.
# Public headers live beside the sources and are included as "<module>/<file>.h".
function(eden_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(eden_${name} STATIC ${ARG_SOURCES})
  add_library(eden::${name} ALIAS eden_${name})
  target_include_directories(eden_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(eden_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  eden_set_warnings(eden_${name})
endfunction()

# Warnings are private to our own targets; third-party headers are system includes.
function(eden_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                                           -Woverloaded-virtual -Wimplicit-fallthrough
                                           # GCC 12 reports std::string copies inlined at -O2 as
                                           # overlapping memcpy (GCC PR 105651, a false positive).
                                           -Wno-restrict)
  if(EDEN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# eden_add_test(NAME SOURCES ... DEPS ... [LABELS ...])
function(eden_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  eden_set_warnings(${name})
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${labels}" DISCOVERY_TIMEOUT 60)
endfunction()
