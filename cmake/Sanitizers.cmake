# -DFERRY_SANITIZE=address,undefined builds everything instrumented and makes
# every finding fatal, so a sanitizer report fails the test that caused it.
if(FERRY_SANITIZE)
  add_compile_options(-fsanitize=${FERRY_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${FERRY_SANITIZE})
endif()
