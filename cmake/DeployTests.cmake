# Tests of what ships: the man page against the binary's --help, the Debian package built and
# run from a fresh root, and deploy/ (Kubernetes manifests, Dockerfile) checked offline.
if(NOT MEMVISOR_TESTS)
  return()
endif()

# Cheap and independent of the build type: in the sanitizer build too.
add_test(NAME man_page
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/package/man_page_test.py
                 --memvisor $<TARGET_FILE:memvisor> --man ${PROJECT_SOURCE_DIR}/docs/man/memvisor.1)
set_tests_properties(man_page PROPERTIES LABELS unit TIMEOUT 60)

# The package is built from the release tree (cpack strips and runs dpkg-shlibdeps: ~10 s), and
# a sanitizer build's binaries are not what anyone installs.
if(NOT MEMVISOR_SANITIZE)
  add_test(NAME package_deb
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/package/package_test.py
                   --build-dir ${PROJECT_BINARY_DIR} --source-dir ${PROJECT_SOURCE_DIR})
  set_tests_properties(package_deb PROPERTIES LABELS "integration;package" TIMEOUT 300)
endif()
