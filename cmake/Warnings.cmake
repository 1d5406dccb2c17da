# Warning set from STYLE.md section 11; FERRY_DEVELOPER turns them into errors.
set(FERRY_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes
    -Wmissing-prototypes -Wcast-qual -Wimplicit-fallthrough)
if(FERRY_DEVELOPER)
  list(APPEND FERRY_WARNINGS -Werror)
endif()
add_compile_options(${FERRY_WARNINGS})
