# Project warning flags (STYLE.md). Applied per target so generated and third-party code
# never sees -Werror.
function(qat_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual)
  if(QAT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
