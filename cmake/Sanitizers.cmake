# QAT_SANITIZE=ON builds every target this project compiles with AddressSanitizer and
# UndefinedBehaviorSanitizer (the "asan" preset; scripts/test runs the engine, dataset and
# importer tests with it). Prebuilt system libraries (oneDNN, Qt, GoogleTest) stay
# uninstrumented. UBSan findings abort (-fno-sanitize-recover), so a test that triggers
# one fails even without UBSAN_OPTIONS=halt_on_error=1.
option(QAT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

if(QAT_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "QAT_SANITIZE needs GCC or Clang (found ${CMAKE_CXX_COMPILER_ID})")
  endif()
  # Included before any add_subdirectory(), so the flags reach every project target
  # (libraries, executables, tests) and nothing else.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "QAT_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer")
endif()
