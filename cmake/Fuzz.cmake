# -DFERRY_FUZZ=ON: libFuzzer targets (tests/fuzz/, docs/internals/fuzzing.md).
# Everything is built with clang's coverage hooks and ASan+UBSan (every
# finding fatal); only the targets link libFuzzer's main. A build of its
# own (build-fuzz): the other builds keep their compiler and flags.
option(FERRY_FUZZ "build the libFuzzer targets (clang only)" OFF)
if(FERRY_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FERRY_FUZZ needs clang (CC=clang): libFuzzer is "
                        "clang's (scripts/deps.sh installs it)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
