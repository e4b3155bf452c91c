# Helpers shared by every part's CMakeLists: one way to add a unit test, one
# way to add an integration test script.

# lx_add_test(NAME SOURCES a.c [b.c] LIBS lib... [TIMEOUT s])
# Builds a cmocka test into build/tests and registers it with ctest.
function(lx_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "LX_BIN=${LX_BIN_DIR};LX_SRC=${PROJECT_SOURCE_DIR};LX_BUILD=${CMAKE_BINARY_DIR}")
endfunction()

# lx_add_script_test(NAME SCRIPT path [TIMEOUT s] [SKIP_CODE n])
# Registers an integration test script. It sees LX_BIN (the binaries), LX_SRC
# (the source tree) and LX_BUILD (the build tree) in its environment. A script
# that exits with SKIP_CODE is reported as skipped, not passed.
function(lx_add_script_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT;SKIP_CODE" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash "${T_SCRIPT}")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "LX_BIN=${LX_BIN_DIR};LX_SRC=${PROJECT_SOURCE_DIR};LX_BUILD=${CMAKE_BINARY_DIR}")
  if(T_SKIP_CODE)
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE ${T_SKIP_CODE})
  endif()
endfunction()

# lx_add_part(NAME lib PUBLIC_LIBS a b PRIVATE_LIBS c d)
# One part = one static library of every .c in the calling folder, with the
# part's include/ as its public include path.
function(lx_add_part lib)
  cmake_parse_arguments(P "" "" "PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  file(GLOB src CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(src)
    add_library(${lib} STATIC ${src})
    target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${lib} PUBLIC ${P_PUBLIC_LIBS} PRIVATE ${P_PRIVATE_LIBS})
  else()
    # A part with no sources yet still carries its header and dependencies.
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${lib} INTERFACE ${P_PUBLIC_LIBS})
  endif()
endfunction()
